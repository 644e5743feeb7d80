'use strict';

/**
 * Demo catalog from seeders/data/demo-catalog.json (the mock warehouse reads the same file).
 * Products are given with legacy free-text categories in case/spacing variants, as a shop
 * upgrading to orderloop would have them.
 *
 * Idempotent, so running it any number of times (db:seed:all, db:seed --seed, runSeeders)
 * neither fails nor duplicates:
 * - products: INSERT … ON CONFLICT (sku) DO NOTHING (an existing product is never overwritten);
 * - categories: for demo products' legacy values that have no category yet, the same rules
 *   as the backfill migration (key lower(btrim(category)), most common spelling as name,
 *   slug with an md5 suffix when taken);
 * - links: demo products without any category link get their legacy one as primary.
 *   Products inserted after the backfill migration ran need this; products whose
 *   categories were set through the API already have links and are left alone.
 * The legacy "Products".category column is written as given and kept.
 */
const fs = require('node:fs');
const path = require('node:path');

const WS = `E' \\t\\r\\n'`;

function demoProducts() {
  const file = path.join(__dirname, 'data', 'demo-catalog.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).products;
}

module.exports = {
  async up(queryInterface) {
    const { sequelize } = queryInterface;
    const products = demoProducts();
    const skus = products.map((p) => p.sku);
    await sequelize.transaction(async (transaction) => {
      await sequelize.query(
        `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold, category)
         SELECT x.sku, x.name, x."priceCents", x.currency, x."stockOnHand", coalesce(x."lowStockThreshold", 5), x.category
         FROM jsonb_to_recordset($1::jsonb)
           AS x(sku text, name text, "priceCents" int, currency text, "stockOnHand" int, "lowStockThreshold" int, category text)
         ORDER BY x.sku
         ON CONFLICT (sku) DO NOTHING`,
        { bind: [JSON.stringify(products)], transaction },
      );
      await sequelize.query(
        `WITH demo AS (
           SELECT btrim(p.category, ${WS}) AS spelling
           FROM "Products" p
           WHERE p.sku = ANY($1::text[]) AND btrim(p.category, ${WS}) <> ''
         ), spellings AS (
           SELECT lower(spelling) AS key, spelling, count(*) AS n FROM demo GROUP BY 1, 2
         ), keys AS (
           SELECT DISTINCT ON (key) key, spelling AS name, sum(n) OVER (PARTITION BY key) AS products
           FROM spellings
           ORDER BY key, n DESC,
                    (spelling <> upper(spelling) AND spelling <> lower(spelling)) DESC,
                    (spelling <> upper(spelling)) DESC,
                    spelling COLLATE "C"
         ), missing AS (
           SELECT k.* FROM keys k WHERE NOT EXISTS (SELECT 1 FROM "Categories" c WHERE lower(c.name) = k.key)
         ), based AS (
           SELECT key, name, products,
                  coalesce(nullif(btrim(left(btrim(regexp_replace(key, '[^a-z0-9]+', '-', 'g'), '-'), 100), '-'), ''), 'category') AS base
           FROM missing
         ), ranked AS (
           SELECT *, row_number() OVER (PARTITION BY base ORDER BY products DESC, key COLLATE "C") AS rn
           FROM based
         )
         INSERT INTO "Categories" (name, slug)
         SELECT name,
                CASE WHEN rn = 1 AND NOT EXISTS (SELECT 1 FROM "Categories" c WHERE c.slug = base) THEN base
                     ELSE btrim(left(base, 91), '-') || '-' || left(md5(key), 8) END
         FROM ranked
         ORDER BY key COLLATE "C"
         ON CONFLICT DO NOTHING`,
        { bind: [skus], transaction },
      );
      await sequelize.query(
        `INSERT INTO "Product_Categories" (product_id, category_id, position)
         SELECT p.id, c.id, 0
         FROM "Products" p
         JOIN "Categories" c ON lower(c.name) = lower(btrim(p.category, ${WS}))
         WHERE p.sku = ANY($1::text[])
           AND NOT EXISTS (SELECT 1 FROM "Product_Categories" pc WHERE pc.product_id = p.id)
         ON CONFLICT DO NOTHING`,
        { bind: [skus], transaction },
      );
    });
  },

  /**
   * Removes the demo products no order refers to (their links go by ON DELETE CASCADE),
   * then categories left without any product whose name is one of the demo ones.
   */
  async down(queryInterface) {
    const { sequelize } = queryInterface;
    const products = demoProducts();
    const skus = products.map((p) => p.sku);
    const keys = [...new Set(products.map((p) => (p.category ?? '').trim().toLowerCase()).filter(Boolean))];
    await sequelize.transaction(async (transaction) => {
      await sequelize.query(
        `DELETE FROM "Products" p
         WHERE p.sku = ANY($1::text[])
           AND NOT EXISTS (SELECT 1 FROM "Order_Items" i WHERE i.product_id = p.id)
           AND NOT EXISTS (SELECT 1 FROM "Stock_Reservations" r WHERE r.product_id = p.id)`,
        { bind: [skus], transaction },
      );
      await sequelize.query(
        `DELETE FROM "Categories" c
         WHERE lower(c.name) = ANY($1::text[])
           AND NOT EXISTS (SELECT 1 FROM "Product_Categories" pc WHERE pc.category_id = c.id)`,
        { bind: [keys], transaction },
      );
    });
  },
};
