'use strict';

/** Units held for an order between reservation and payment; stock_reserved is the sum of the active ones. */
module.exports = {
  async up(queryInterface) {
    await queryInterface.sequelize.query(`
      CREATE TABLE "Stock_Reservations" (
        id          bigserial   PRIMARY KEY,
        order_id    uuid        NOT NULL REFERENCES "Orders" (id) ON DELETE CASCADE,
        product_id  integer     NOT NULL REFERENCES "Products" (id),
        quantity    integer     NOT NULL CHECK (quantity > 0),
        status      varchar(16) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'committed', 'released')),
        expires_at  timestamptz NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (order_id, product_id)
      )`);
    await queryInterface.sequelize.query(`CREATE INDEX stock_reservations_active_product ON "Stock_Reservations" (product_id) WHERE status = 'active'`);
    await queryInterface.sequelize.query(`CREATE INDEX stock_reservations_active_expiry ON "Stock_Reservations" (expires_at) WHERE status = 'active'`);
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query('DROP TABLE IF EXISTS "Stock_Reservations"');
  },
};
