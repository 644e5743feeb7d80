'use strict';

/**
 * Catalog, step 3: the link table's foreign key to "Products" (ON DELETE CASCADE), added
 * the way that keeps orders flowing:
 *
 * 1. links to products deleted since the backfill are removed (nothing deletes products
 *    in orderloop, but the backfill ran without the key);
 * 2. ADD CONSTRAINT … NOT VALID: catalogue-only, but it needs a SHARE ROW EXCLUSIVE lock on
 *    "Products", which waits for transactions writing to it and, while waiting, holds up
 *    new ones. A short lock_timeout makes it give up instead of stalling orders behind a
 *    long transaction; it is tried a few times, then the migration fails and can simply
 *    be run again;
 * 3. VALIDATE CONSTRAINT: checks the existing rows under SHARE UPDATE EXCLUSIVE on the link
 *    table and ROW SHARE on "Products", which block no reads or writes.
 *
 * Running it again after a failure carries on where it stopped.
 */
const { setTimeout: sleep } = require('node:timers/promises');

const CONSTRAINT = 'product_categories_product_id_fkey';
const LOCK_TIMEOUT = '2s';
const ATTEMPTS = 3;
const LOCK_NOT_AVAILABLE = '55P03';

/** Runs `work` in a transaction with a short lock_timeout, retrying when the lock was not granted in time. */
async function withShortLock(sequelize, work) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await sequelize.transaction(async (transaction) => {
        await sequelize.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`, { transaction });
        return work(transaction);
      });
    } catch (error) {
      const code = error && (error.parent || error.original || error).code;
      if (code !== LOCK_NOT_AVAILABLE || attempt >= ATTEMPTS) throw error;
      await sleep(500 * attempt);
    }
  }
}

async function constraintState(sequelize) {
  const [rows] = await sequelize.query(
    `SELECT convalidated FROM pg_constraint WHERE conname = $1 AND conrelid = '"Product_Categories"'::regclass`,
    { bind: [CONSTRAINT] },
  );
  if (!rows.length) return 'missing';
  return rows[0].convalidated ? 'valid' : 'not-valid';
}

module.exports = {
  async up(queryInterface) {
    const { sequelize } = queryInterface;
    const state = await constraintState(sequelize);
    if (state === 'valid') return;
    await sequelize.query(
      `DELETE FROM "Product_Categories" pc WHERE NOT EXISTS (SELECT 1 FROM "Products" p WHERE p.id = pc.product_id)`,
    );
    if (state === 'missing') {
      await withShortLock(sequelize, (transaction) =>
        sequelize.query(
          `ALTER TABLE "Product_Categories" ADD CONSTRAINT ${CONSTRAINT}
           FOREIGN KEY (product_id) REFERENCES "Products" (id) ON DELETE CASCADE NOT VALID`,
          { transaction },
        ),
      );
    }
    await sequelize.query(`ALTER TABLE "Product_Categories" VALIDATE CONSTRAINT ${CONSTRAINT}`);
  },

  async down(queryInterface) {
    const { sequelize } = queryInterface;
    await withShortLock(sequelize, (transaction) =>
      sequelize.query(`ALTER TABLE "Product_Categories" DROP CONSTRAINT IF EXISTS ${CONSTRAINT}`, { transaction }),
    );
  },
};
