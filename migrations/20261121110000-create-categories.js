'use strict';

/**
 * Catalog, step 1 of expand / migrate / contract: EXPAND. Adds "Categories" and the
 * "Product_Categories" link table next to the legacy free-text "Products".category,
 * which stays as it is (no column change, no rewrite of "Products").
 *
 * This step takes no lock on "Products" at all: the link table's foreign key to
 * "Products" is added only after the backfill, NOT VALID and then validated
 * (20261121110200-product-categories-product-fk), because while it exists every inserted
 * link takes a KEY SHARE lock on its product row, and the order flow holds product rows
 * FOR UPDATE: a backfill under that key would wait for orders and make orders wait for it.
 * The data is copied by 20261121110100-backfill-product-categories.
 */
module.exports = {
  async up(queryInterface) {
    const { sequelize } = queryInterface;
    await sequelize.transaction(async (transaction) => {
      const run = (sql) => sequelize.query(sql, { transaction });
      await run(`
        CREATE TABLE "Categories" (
          id         serial       PRIMARY KEY,
          name       varchar(100) NOT NULL CHECK (name <> '' AND name = btrim(name)),
          slug       varchar(100) NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
          created_at timestamptz  NOT NULL DEFAULT now(),
          updated_at timestamptz  NOT NULL DEFAULT now(),
          CONSTRAINT categories_slug_key UNIQUE (slug)
        )`);
      // Unique regardless of case: "Coffee" and "COFFEE" are one category.
      await run(`CREATE UNIQUE INDEX categories_name_lower_key ON "Categories" (lower(name))`);
      await run(`COMMENT ON TABLE "Categories" IS 'Product categories; "Products".category keeps the primary one''s name for legacy readers'`);
      await run(`
        CREATE TABLE "Product_Categories" (
          product_id  integer     NOT NULL,
          category_id integer     NOT NULL REFERENCES "Categories" (id) ON DELETE CASCADE,
          position    smallint    NOT NULL DEFAULT 0 CHECK (position >= 0),
          created_at  timestamptz NOT NULL DEFAULT now(),
          updated_at  timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (product_id, category_id),
          CONSTRAINT product_categories_product_position_key UNIQUE (product_id, position)
        )`);
      await run(`CREATE INDEX product_categories_category_id ON "Product_Categories" (category_id)`);
      await run(`COMMENT ON COLUMN "Product_Categories".position IS '0 = the primary category, whose name "Products".category holds'`);
    });
  },

  async down(queryInterface) {
    const { sequelize } = queryInterface;
    await sequelize.transaction(async (transaction) => {
      await sequelize.query('DROP TABLE IF EXISTS "Product_Categories"', { transaction });
      await sequelize.query('DROP TABLE IF EXISTS "Categories"', { transaction });
    });
  },
};
