import { statement } from '../../../db/statement';

/**
 * Writes a run's running totals and appends one page's entries to its short detail lists, in the
 * page's transaction, so the row always tells how far the run got. A list with nothing to append
 * is assigned to itself, which keeps its stored value as it is instead of rewriting it (the
 * lists are jsonb; rewriting them on every page held the products' locks longer).
 */
export const recordSyncPage = statement<
  Record<string, never>,
  [
    id: string, pages: number, skusSeen: number, skusChanged: number, skusUnknown: number, malformedCount: number,
    shortfalls: string, unknownSkus: string, malformed: string,
  ]
>(
  'inventory.record_sync_page',
  `UPDATE "Inventory_Syncs"
   SET pages = $2, skus_seen = $3, skus_changed = $4, skus_unknown = $5, malformed_count = $6, updated_at = now(),
       shortfalls = CASE WHEN $7::jsonb = '[]'::jsonb THEN shortfalls ELSE shortfalls || $7::jsonb END,
       unknown_skus = CASE WHEN $8::jsonb = '[]'::jsonb THEN unknown_skus ELSE unknown_skus || $8::jsonb END,
       malformed = CASE WHEN $9::jsonb = '[]'::jsonb THEN malformed ELSE malformed || $9::jsonb END
   WHERE id = $1`,
);
