'use strict';

/** Products and their stock. stock_reserved counts units held by active reservations. */
module.exports = {
  async up(queryInterface) {
    await queryInterface.sequelize.query(`
      CREATE TABLE "Products" (
        id                  serial PRIMARY KEY,
        sku                 varchar(64)  NOT NULL UNIQUE,
        name                varchar(200) NOT NULL,
        price_cents         integer      NOT NULL CHECK (price_cents >= 0),
        currency            char(3)      NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        stock_on_hand       integer      NOT NULL DEFAULT 0 CHECK (stock_on_hand >= 0),
        stock_reserved      integer      NOT NULL DEFAULT 0 CHECK (stock_reserved >= 0),
        low_stock_threshold integer      NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
        category            varchar(100),
        created_at          timestamptz  NOT NULL DEFAULT now(),
        updated_at          timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT products_reserved_within_on_hand CHECK (stock_reserved <= stock_on_hand)
      )`);
    await queryInterface.sequelize.query(`COMMENT ON COLUMN "Products".category IS 'Legacy free-text category; kept in step with the primary category'`);
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query('DROP TABLE IF EXISTS "Products"');
  },
};
