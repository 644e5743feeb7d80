import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/**
 * Second statement of a page: stock_on_hand = GREATEST(warehouse, stock_reserved) where that
 * changes it, never touching stock_reserved (units promised to orders stay promised). It must not
 * be merged with lockSyncPage: an UPDATE in the same statement as the FOR UPDATE works from the
 * statement's snapshot, meets the newer row version the lock already took, and queues behind
 * other waiters on the old version, which deadlocks with them. Returns the changed rows.
 */
export const applySyncPage = statement<Pick<ProductStock, 'id' | 'stockOnHand'>, [productIds: number[], quantities: number[]]>(
  'inventory.apply_sync_page',
  `UPDATE "Products" p
   SET stock_on_hand = GREATEST(i.quantity, p.stock_reserved), updated_at = now()
   FROM unnest($1::int[], $2::int[]) AS i(id, quantity)
   WHERE p.id = i.id AND p.stock_on_hand <> GREATEST(i.quantity, p.stock_reserved)
   RETURNING p.id, p.stock_on_hand AS "stockOnHand"`,
);
