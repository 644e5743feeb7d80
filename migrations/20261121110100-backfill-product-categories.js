'use strict';

/**
 * Catalog, step 2 of expand / migrate / contract: MIGRATE the data. Every distinct
 * non-empty legacy "Products".category becomes a category and each product is linked to
 * it as its primary (position 0). Two set-based statements (INSERT … SELECT), no per-row loop.
 *
 * - Values that differ only in case or surrounding whitespace are one category
 *   (key = lower(btrim(category))).
 * - Its name is the most common trimmed spelling; ties prefer Mixed Case, then lower
 *   case over ALL CAPS, then byte order. "Coffee" x2, " coffee", "COFFEE" → "Coffee".
 * - Its slug is the key with every run of characters other than a-z/0-9 turned into "-".
 *   When two keys give the same slug ("Coffee & Tea", "coffee tea"), the one with more
 *   products keeps it and the others get "-" + 8 hex digits of md5(key); an empty slug
 *   (a name with no a-z/0-9, such as "茶") becomes "category".
 *
 * "Products" is only read (ACCESS SHARE, which blocks no INSERT/UPDATE/DELETE) and never
 * written: the legacy column keeps its exact values. The link table has no foreign key to
 * "Products" yet (the next migration adds it), so no product row is locked either: orders
 * that hold products FOR UPDATE neither wait for this nor make it wait.
 * Running it again adds nothing (ON CONFLICT / NOT EXISTS).
 */
const WS = `E' \\t\\r\\n'`;
const KEY = `lower(btrim(p.category, ${WS}))`;

module.exports = {
  async up(queryInterface) {
    const { sequelize } = queryInterface;
    await sequelize.transaction(async (transaction) => {
      await sequelize.query(
        `WITH spellings AS (
           SELECT ${KEY} AS key, btrim(p.category, ${WS}) AS spelling, count(*) AS n
           FROM "Products" p
           WHERE btrim(p.category, ${WS}) <> ''
           GROUP BY 1, 2
         ), keys AS (
           SELECT DISTINCT ON (key) key, spelling AS name, sum(n) OVER (PARTITION BY key) AS products
           FROM spellings
           ORDER BY key, n DESC,
                    (spelling <> upper(spelling) AND spelling <> lower(spelling)) DESC,
                    (spelling <> upper(spelling)) DESC,
                    spelling COLLATE "C"
         ), based AS (
           SELECT key, name, products,
                  coalesce(nullif(btrim(left(btrim(regexp_replace(key, '[^a-z0-9]+', '-', 'g'), '-'), 100), '-'), ''), 'category') AS base
           FROM keys
         ), ranked AS (
           SELECT *, row_number() OVER (PARTITION BY base ORDER BY products DESC, key COLLATE "C") AS rn
           FROM based
         )
         INSERT INTO "Categories" (name, slug)
         SELECT name, CASE WHEN rn = 1 THEN base ELSE btrim(left(base, 91), '-') || '-' || left(md5(key), 8) END
         FROM ranked
         ORDER BY key COLLATE "C"
         ON CONFLICT DO NOTHING`,
        { transaction },
      );
      await sequelize.query(
        `INSERT INTO "Product_Categories" (product_id, category_id, position)
         SELECT p.id, c.id, 0
         FROM "Products" p
         JOIN "Categories" c ON lower(c.name) = ${KEY}
         WHERE btrim(p.category, ${WS}) <> ''
           AND NOT EXISTS (SELECT 1 FROM "Product_Categories" pc WHERE pc.product_id = p.id)
         ON CONFLICT DO NOTHING`,
        { transaction },
      );
    });
  },

  /** Empties what up filled (the tables themselves go with the previous migration's down). "Products" is not touched. */
  async down(queryInterface) {
    const { sequelize } = queryInterface;
    await sequelize.transaction(async (transaction) => {
      await sequelize.query('DELETE FROM "Product_Categories"', { transaction });
      await sequelize.query('DELETE FROM "Categories"', { transaction });
    });
  },
};
