import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { InventorySync } from '../models';

/**
 * The newest runs for the operations dashboard, which polls it: only the first 10 shortfalls of
 * each run leave the database (a run keeps up to 1,000), cut down to the fields the dashboard shows.
 */
export const recentSyncRuns = statement<
  Pick<
    InferAttributes<InventorySync>,
    'id' | 'trigger' | 'status' | 'startedAt' | 'finishedAt' | 'skusSeen' | 'skusChanged' | 'skusUnknown' | 'skusMissing' | 'error'
  > & { shortfallCount: number; shortfalls: Array<{ sku: string; short: number; warehouse: number; reserved: number }> | null },
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
