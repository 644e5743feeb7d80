import { statement } from '../../../db/statement';

/**
 * Locks every product in ascending id order, the lock order of every stock change, before the
 * repair recomputes stock_reserved, so no reserve, commit, release or sync runs in between.
 */
export const integrityLockAllProducts = statement<{ id: number }>(
  'inventory.integrity_lock_all_products',
  'SELECT id FROM "Products" ORDER BY id FOR NO KEY UPDATE',
);
