'use strict';

/**
 * One row per inventory sync attempt (a pg-boss retry is a new row with the next attempt number),
 * readable with psql: counts in columns, per-SKU detail (changes, shortfalls, unknown, missing,
 * malformed rows) in jsonb arrays.
 */
module.exports = {
  async up(queryInterface) {
    await queryInterface.sequelize.query(`
      CREATE TABLE "Inventory_Syncs" (
        id              bigserial    PRIMARY KEY,
        trigger         varchar(16)  NOT NULL CHECK (trigger IN ('cron', 'manual')),
        tick            timestamptz,
        job_id          uuid,
        attempt         integer      NOT NULL DEFAULT 1 CHECK (attempt > 0),
        status          varchar(16)  NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
        started_at      timestamptz  NOT NULL DEFAULT now(),
        finished_at     timestamptz,
        pages           integer      NOT NULL DEFAULT 0 CHECK (pages >= 0),
        skus_seen       integer      NOT NULL DEFAULT 0 CHECK (skus_seen >= 0),
        skus_changed    integer      NOT NULL DEFAULT 0 CHECK (skus_changed >= 0),
        skus_unknown    integer      NOT NULL DEFAULT 0 CHECK (skus_unknown >= 0),
        skus_missing    integer      CHECK (skus_missing >= 0),
        shortfalls      jsonb        NOT NULL DEFAULT '[]'::jsonb,
        unknown_skus    jsonb        NOT NULL DEFAULT '[]'::jsonb,
        missing_skus    jsonb        NOT NULL DEFAULT '[]'::jsonb,
        malformed       jsonb        NOT NULL DEFAULT '[]'::jsonb,
        malformed_count integer      NOT NULL DEFAULT 0 CHECK (malformed_count >= 0),
        changes         jsonb        NOT NULL DEFAULT '[]'::jsonb,
        error           text,
        created_at      timestamptz  NOT NULL DEFAULT now(),
        updated_at      timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT inventory_syncs_tick_only_for_cron CHECK (tick IS NULL OR trigger = 'cron'),
        CONSTRAINT inventory_syncs_finished_when_done CHECK ((status = 'running') = (finished_at IS NULL))
      )`);
    await queryInterface.sequelize.query(`COMMENT ON COLUMN "Inventory_Syncs".tick IS 'The cron tick this run belongs to (NULL for manual runs)'`);
    await queryInterface.sequelize.query(`COMMENT ON COLUMN "Inventory_Syncs".skus_missing IS 'Products the warehouse did not report; NULL until a run has read every page'`);
    await queryInterface.sequelize.query(`COMMENT ON COLUMN "Inventory_Syncs".changes IS 'Per-SKU stock_on_hand changes [{sku, productId, kind, before, after, warehouse, reserved}], written when the run ends'`);
    // A second job for a tick that already has a run of the same attempt is skipped by the worker.
    await queryInterface.sequelize.query(`
      CREATE UNIQUE INDEX inventory_syncs_tick_attempt ON "Inventory_Syncs" (tick, attempt) WHERE tick IS NOT NULL`);
    await queryInterface.sequelize.query('CREATE INDEX inventory_syncs_job_id ON "Inventory_Syncs" (job_id)');
    await queryInterface.sequelize.query(`CREATE INDEX inventory_syncs_running ON "Inventory_Syncs" (id) WHERE status = 'running'`);
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query('DROP TABLE IF EXISTS "Inventory_Syncs"');
  },
};
