import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/**
 * Locks the given products in ascending id order (the one lock order of every stock change, so
 * they cannot deadlock) and reads their stock. FOR NO KEY UPDATE is what an UPDATE of non-key
 * columns takes anyway, and it does not wait for the FOR KEY SHARE locks of foreign-key checks.
 */
export const lockProducts = statement<ProductStock, [productIds: number[]]>(
  'inventory.lock_products',
  `SELECT id, sku, stock_on_hand AS "stockOnHand", stock_reserved AS "stockReserved", low_stock_threshold AS "lowStockThreshold"
   FROM "Products" WHERE id = ANY($1::int[]) ORDER BY id FOR NO KEY UPDATE`,
);
