import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/**
 * Locks, in ascending id order, the products the given orders hold active reservations on. It
 * must be its own statement: an UPDATE in the same statement as the FOR UPDATE works from the
 * statement's older snapshot and can deadlock with other waiters on the row.
 */
export const lockReservedProducts = statement<Pick<ProductStock, 'id'>, [orderIds: string[]]>(
  'inventory.lock_reserved_products',
  `SELECT p.id FROM "Products" p
   WHERE p.id IN (SELECT product_id FROM "Stock_Reservations" WHERE order_id = ANY($1::uuid[]) AND status = 'active')
   ORDER BY p.id FOR NO KEY UPDATE`,
);
