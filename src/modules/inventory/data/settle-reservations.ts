import type { InferAttributes } from 'sequelize';
import type { StockReservation } from '../models';
import type { ProductStock } from './product-stock';

/** A product whose reservation for an order was settled, and how many units. */
export type SettledRow = Pick<InferAttributes<StockReservation>, 'orderId' | 'productId' | 'quantity'> & Pick<ProductStock, 'sku'>;

/**
 * Not a statement: what commit-reservations.ts and release-reservations.ts share. Ends the active
 * reservations of the orders in $1 (`to` becomes their status) and applies each product's total
 * to its stock with `stockChange` (a SET list over `totals.quantity`); run after
 * lockReservedProducts, in the same transaction. Totals, not rows: an UPDATE … FROM with several
 * matching rows would change a product only once.
 */
export const settleReservationsSql = (to: 'committed' | 'released', stockChange: string) =>
  `WITH r AS (
     UPDATE "Stock_Reservations"
     SET status = '${to}', updated_at = now()
     WHERE order_id = ANY($1::uuid[]) AND status = 'active'
     RETURNING id, order_id, product_id, quantity
   ), totals AS (
     SELECT product_id, sum(quantity)::int AS quantity FROM r GROUP BY product_id
   ), p AS (
     UPDATE "Products" p
     SET ${stockChange}, updated_at = now()
     FROM totals WHERE p.id = totals.product_id
     RETURNING p.id, p.sku
   )
   SELECT r.order_id AS "orderId", r.product_id AS "productId", p.sku, r.quantity
   FROM r JOIN p ON p.id = r.product_id ORDER BY r.id`;
