import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/**
 * Locks every product in ascending id order, the lock order of every stock change, before the
 * repair recomputes stock_reserved, so no reserve, commit, release or sync runs in between.
 */
export const integrityLockAllProducts = statement<Pick<ProductStock, 'id'>>(
  'inventory.integrity_lock_all_products',
  'SELECT id FROM "Products" ORDER BY id FOR NO KEY UPDATE',
);
