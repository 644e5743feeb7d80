import { statement } from '../../../db/statement';

/** A product whose reservation for an order was settled, and how many units. */
export interface SettledRow {
  orderId: string;
  productId: number;
  sku: string;
  quantity: number;
}

/**
 * The orders will not be paid: their active reservations become released and their units are
 * available again (stock_reserved drops by each product's total, on hand stays). Run after
 * lockReservedProducts, in the same transaction.
 */
export const releaseReservations = statement<SettledRow, [orderIds: string[]]>(
  'inventory.release_reservations',
  `WITH r AS (
     UPDATE "Stock_Reservations"
     SET status = 'released', updated_at = now()
     WHERE order_id = ANY($1::uuid[]) AND status = 'active'
     RETURNING id, order_id, product_id, quantity
   ), totals AS (
     SELECT product_id, sum(quantity)::int AS quantity FROM r GROUP BY product_id
   ), p AS (
     UPDATE "Products" p
     SET stock_reserved = p.stock_reserved - totals.quantity, updated_at = now()
     FROM totals WHERE p.id = totals.product_id
     RETURNING p.id, p.sku
   )
   SELECT r.order_id AS "orderId", r.product_id AS "productId", p.sku, r.quantity
   FROM r JOIN p ON p.id = r.product_id ORDER BY r.id`,
);
