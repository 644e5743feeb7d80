'use strict';

/**
 * "Payments".error_detail: the technical account of a failed attempt (the HTTP client's code, the
 * provider's status and message), for operators only. error_code and error_message now hold a
 * reason code and our own plain message; rows written before keep their text, and the API derives
 * what a customer sees from the code.
 *
 * Adding a nullable column without a default changes only the catalogue, but it needs an ACCESS
 * EXCLUSIVE lock on "Payments" for a moment: a short lock_timeout makes it give up instead of
 * queueing charge attempts behind a long transaction; it is tried a few times.
 */
const { setTimeout: sleep } = require('node:timers/promises');

const LOCK_TIMEOUT = '2s';
const ATTEMPTS = 3;
const LOCK_NOT_AVAILABLE = '55P03';

async function withShortLock(sequelize, sql) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await sequelize.transaction(async (transaction) => {
        await sequelize.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`, { transaction });
        await sequelize.query(sql, { transaction });
      });
    } catch (error) {
      const code = error && (error.parent || error.original || error).code;
      if (code !== LOCK_NOT_AVAILABLE || attempt >= ATTEMPTS) throw error;
      await sleep(500 * attempt);
    }
  }
}

module.exports = {
  async up(queryInterface) {
    await withShortLock(queryInterface.sequelize, 'ALTER TABLE "Payments" ADD COLUMN IF NOT EXISTS error_detail jsonb');
  },

  async down(queryInterface) {
    await withShortLock(queryInterface.sequelize, 'ALTER TABLE "Payments" DROP COLUMN IF EXISTS error_detail');
  },
};
