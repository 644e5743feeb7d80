import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { InventorySync } from '../models';
import type { SyncTrigger } from '../schemas';

/**
 * Records a new run and closes every other run still 'running', in one statement. No row comes
 * back when this cron tick already has a run for this attempt (a duplicate job for the tick); then
 * nothing else changes. Another 'running' row was left by a worker that stopped mid-run (the
 * stately queue lets one sync job be active at a time), so it is closed as failed. The UPDATE
 * reads the statement's snapshot, which does not hold the new row.
 */
export const startSyncRun = statement<Pick<InferAttributes<InventorySync>, 'id'>, [trigger: SyncTrigger, tick: string | null, jobId: string | null, attempt: number]>(
  'inventory.start_sync_run',
  `WITH created AS (
     INSERT INTO "Inventory_Syncs" (trigger, tick, job_id, attempt)
     VALUES ($1, $2::timestamptz, $3::uuid, $4)
     ON CONFLICT (tick, attempt) WHERE tick IS NOT NULL DO NOTHING
     RETURNING id
   ), abandoned AS (
     UPDATE "Inventory_Syncs"
     SET status = 'failed', finished_at = now(), updated_at = now(),
         error = COALESCE(error, 'abandoned: the worker stopped (or the job expired) before the run finished')
     WHERE status = 'running' AND EXISTS (SELECT 1 FROM created)
   )
   SELECT id FROM created`,
);
