'use strict';

/** One row per charge attempt. At most one succeeded charge per order, enforced by the database. */
module.exports = {
  async up(queryInterface) {
    await queryInterface.sequelize.query(`
      CREATE TABLE "Payments" (
        id                 bigserial    PRIMARY KEY,
        order_id           uuid         NOT NULL REFERENCES "Orders" (id) ON DELETE CASCADE,
        attempt            integer      NOT NULL CHECK (attempt > 0),
        outcome            varchar(16)  NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'declined')),
        provider_charge_id varchar(100),
        error_code         varchar(64),
        error_message      varchar(500),
        amount_cents       bigint       NOT NULL CHECK (amount_cents >= 0),
        currency           char(3)      NOT NULL,
        duration_ms        integer,
        created_at         timestamptz  NOT NULL DEFAULT now(),
        updated_at         timestamptz  NOT NULL DEFAULT now(),
        UNIQUE (order_id, attempt)
      )`);
    await queryInterface.sequelize.query(`CREATE UNIQUE INDEX payments_one_success_per_order ON "Payments" (order_id) WHERE outcome = 'succeeded'`);
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query('DROP TABLE IF EXISTS "Payments"');
  },
};
