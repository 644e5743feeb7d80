import { statement } from '../../../db/statement';
import type { SyncStatus, SyncTrigger } from '../schemas';

/**
 * The newest runs for the operations dashboard, which polls it: only the first 10 shortfalls of
 * each run leave the database (a run keeps up to 1,000), cut down to the fields the dashboard shows.
 */
export const recentSyncRuns = statement<
  {
    id: string; trigger: SyncTrigger; status: SyncStatus; startedAt: Date; finishedAt: Date | null; skusSeen: number; skusChanged: number;
    skusUnknown: number; skusMissing: number | null; shortfallCount: number;
    shortfalls: Array<{ sku: string; short: number; warehouse: number; reserved: number }> | null; error: string | null;
  },
  [limit: number]
>(
  'inventory.recent_sync_runs',
  `SELECT id, trigger, status, started_at AS "startedAt", finished_at AS "finishedAt", skus_seen AS "skusSeen",
          skus_changed AS "skusChanged", skus_unknown AS "skusUnknown", skus_missing AS "skusMissing",
          jsonb_array_length(shortfalls) AS "shortfallCount",
          (SELECT jsonb_agg(jsonb_build_object('sku', s->>'sku', 'short', (s->>'short')::int,
                                               'warehouse', (s->>'warehouse')::int, 'reserved', (s->>'reserved')::int))
           FROM (SELECT s FROM jsonb_array_elements(shortfalls) AS s LIMIT 10) AS first) AS shortfalls,
          left(error, 300) AS error
   FROM "Inventory_Syncs" ORDER BY id DESC LIMIT $1`,
);
