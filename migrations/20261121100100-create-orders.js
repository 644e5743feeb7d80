'use strict';

/** Orders and their lines. Statuses are CHECK constraints (not ENUM types) so they can evolve without type juggling. */
module.exports = {
  async up(queryInterface) {
    await queryInterface.sequelize.query(`
      CREATE TABLE "Orders" (
        id                  uuid         PRIMARY KEY,
        customer_id         varchar(64)  NOT NULL,
        status              varchar(16)  NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'reserved', 'completed', 'failed', 'cancelled')),
        total_cents         bigint       NOT NULL CHECK (total_cents >= 0),
        currency            char(3)      NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        failure_reason      varchar(40),
        payment_attempts    integer      NOT NULL DEFAULT 0,
        payment_lease_until timestamptz,
        idempotency_key     varchar(255),
        request_hash        char(64),
        request_id          varchar(128),
        created_at          timestamptz  NOT NULL DEFAULT now(),
        updated_at          timestamptz  NOT NULL DEFAULT now()
      )`);
    await queryInterface.sequelize.query(`COMMENT ON COLUMN "Orders".payment_lease_until IS 'Set while a charge attempt is in flight; cancel and the expiry sweeper wait for it'`);
    await queryInterface.sequelize.query(`
      CREATE UNIQUE INDEX orders_customer_idempotency_key ON "Orders" (customer_id, idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
    await queryInterface.sequelize.query('CREATE INDEX orders_customer_created ON "Orders" (customer_id, created_at DESC, id DESC)');
    await queryInterface.sequelize.query('CREATE INDEX orders_created ON "Orders" (created_at DESC, id DESC)');
    await queryInterface.sequelize.query(`CREATE INDEX orders_open_status ON "Orders" (status) WHERE status IN ('pending', 'reserved')`);

    await queryInterface.sequelize.query(`
      CREATE TABLE "Order_Items" (
        id               serial       PRIMARY KEY,
        order_id         uuid         NOT NULL REFERENCES "Orders" (id) ON DELETE CASCADE,
        product_id       integer      NOT NULL REFERENCES "Products" (id),
        sku              varchar(64)  NOT NULL,
        name             varchar(200) NOT NULL,
        quantity         integer      NOT NULL CHECK (quantity > 0),
        unit_price_cents integer      NOT NULL CHECK (unit_price_cents >= 0),
        created_at       timestamptz  NOT NULL DEFAULT now(),
        updated_at       timestamptz  NOT NULL DEFAULT now(),
        UNIQUE (order_id, product_id)
      )`);
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query('DROP TABLE IF EXISTS "Order_Items"');
    await queryInterface.sequelize.query('DROP TABLE IF EXISTS "Orders"');
  },
};
