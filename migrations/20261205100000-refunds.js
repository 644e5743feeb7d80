'use strict';

/**
 * Refunds (expand only; nothing to migrate or contract):
 * - "Orders".status may be 'refunded' (a completed order refunded in full). The CHECK is replaced
 *   NOT VALID and validated apart: adding it takes the table's lock only for a moment, the
 *   validation scans under a lock that lets orders be written meanwhile. Code from before never
 *   writes 'refunded', and reads it as one more status it does not act on.
 * - "Refunds": one refund per order (full refunds only), owned by the payments module.
 * - "Payment_Circuits": each worker process's circuit breaker state around the payment provider,
 *   written on every change, so the dashboard shows it whichever process holds it.
 */
const { setTimeout: sleep } = require('node:timers/promises');

const LOCK_TIMEOUT = '2s';
const ATTEMPTS = 3;
const LOCK_NOT_AVAILABLE = '55P03';
const STATUSES_BEFORE = "'pending', 'reserved', 'completed', 'failed', 'cancelled'";
const STATUSES_AFTER = "'pending', 'reserved', 'completed', 'failed', 'cancelled', 'refunded'";

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

async function replaceStatusCheck(sequelize, statuses) {
  await withShortLock(sequelize, `
    ALTER TABLE "Orders" DROP CONSTRAINT IF EXISTS "Orders_status_check",
      ADD CONSTRAINT "Orders_status_check" CHECK (status IN (${statuses})) NOT VALID`);
  await sequelize.query('ALTER TABLE "Orders" VALIDATE CONSTRAINT "Orders_status_check"');
}

module.exports = {
  async up(queryInterface) {
    const { sequelize } = queryInterface;
    await replaceStatusCheck(sequelize, STATUSES_AFTER);
    await sequelize.query(`
      CREATE TABLE IF NOT EXISTS "Refunds" (
        id                 bigserial    PRIMARY KEY,
        order_id           uuid         NOT NULL UNIQUE REFERENCES "Orders" (id) ON DELETE CASCADE,
        provider_charge_id varchar(100) NOT NULL,
        provider_refund_id varchar(100),
        amount_cents       bigint       NOT NULL CHECK (amount_cents > 0),
        currency           char(3)      NOT NULL,
        reason             varchar(16)  NOT NULL CHECK (reason IN ('late_charge', 'requested')),
        restock            boolean      NOT NULL DEFAULT false,
        status             varchar(16)  NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'succeeded', 'failed')),
        attempts           integer      NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        error_code         varchar(64),
        error_detail       jsonb,
        created_at         timestamptz  NOT NULL DEFAULT now(),
        updated_at         timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT refunds_refund_id_when_succeeded CHECK ((status = 'succeeded') = (provider_refund_id IS NOT NULL))
      )`);
    await sequelize.query(`CREATE INDEX IF NOT EXISTS refunds_open ON "Refunds" (status) WHERE status <> 'succeeded'`);
    await sequelize.query(`
      CREATE TABLE IF NOT EXISTS "Payment_Circuits" (
        process       varchar(200) PRIMARY KEY,
        state         varchar(16)  NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
        changed_at    timestamptz  NOT NULL,
        next_probe_at timestamptz,
        created_at    timestamptz  NOT NULL DEFAULT now(),
        updated_at    timestamptz  NOT NULL DEFAULT now()
      )`);
  },

  async down(queryInterface) {
    const { sequelize } = queryInterface;
    await sequelize.query('DROP TABLE IF EXISTS "Payment_Circuits"');
    await sequelize.query('DROP TABLE IF EXISTS "Refunds"');
    // Refunded orders go back to completed, the status they had before.
    await sequelize.query(`UPDATE "Orders" SET status = 'completed', updated_at = now() WHERE status = 'refunded'`);
    await replaceStatusCheck(sequelize, STATUSES_BEFORE);
  },
};
