import { statement } from '../../../db/statement';
import type { SettledRow } from './release-reservations';

/**
 * Payment done: the orders' active reservations become committed and their units leave stock
 * (on hand and reserved both drop by each product's total). Run after lockReservedProducts, in
 * the same transaction.
 */
export const commitReservations = statement<SettledRow, [orderIds: string[]]>(
  'inventory.commit_reservations',
  `WITH r AS (
     UPDATE "Stock_Reservations"
     SET status = 'committed', updated_at = now()
     WHERE order_id = ANY($1::uuid[]) AND status = 'active'
     RETURNING id, order_id, product_id, quantity
   ), totals AS (
     SELECT product_id, sum(quantity)::int AS quantity FROM r GROUP BY product_id
   ), p AS (
     UPDATE "Products" p
     SET stock_on_hand = p.stock_on_hand - totals.quantity, stock_reserved = p.stock_reserved - totals.quantity, updated_at = now()
     FROM totals WHERE p.id = totals.product_id
     RETURNING p.id, p.sku
   )
   SELECT r.order_id AS "orderId", r.product_id AS "productId", p.sku, r.quantity
   FROM r JOIN p ON p.id = r.product_id ORDER BY r.id`,
);
