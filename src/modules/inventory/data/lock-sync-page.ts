import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/**
 * First of the two statements that apply a warehouse page: locks the page's products in
 * ascending id order (as the order flow does, so the two cannot deadlock) and reads their stock.
 * FOR NO KEY UPDATE, not FOR UPDATE: inserting "Order_Items" takes FOR KEY SHARE locks on
 * products in item order, not id order, and FOR UPDATE would deadlock with that.
 */
export const lockSyncPage = statement<ProductStock, [skus: string[]]>(
  'inventory.lock_sync_page',
  `SELECT id, sku::text AS sku, stock_on_hand AS "stockOnHand", stock_reserved AS "stockReserved", low_stock_threshold AS "lowStockThreshold"
   FROM "Products"
   WHERE sku = ANY($1::text[])
   ORDER BY id
   FOR NO KEY UPDATE`,
);
