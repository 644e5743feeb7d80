'use strict';

/** API clients for POST /auth/token. Secrets are stored only as scrypt hashes. */
module.exports = {
  async up(queryInterface) {
    await queryInterface.sequelize.query(`
      CREATE TABLE "Api_Clients" (
        id          serial       PRIMARY KEY,
        client_id   varchar(64)  NOT NULL UNIQUE,
        secret_hash varchar(255) NOT NULL,
        role        varchar(16)  NOT NULL CHECK (role IN ('customer', 'admin')),
        customer_id varchar(64),
        name        varchar(200),
        disabled_at timestamptz,
        created_at  timestamptz  NOT NULL DEFAULT now(),
        updated_at  timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT api_clients_customer_bound CHECK ((role = 'customer') = (customer_id IS NOT NULL))
      )`);
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query('DROP TABLE IF EXISTS "Api_Clients"');
  },
};
