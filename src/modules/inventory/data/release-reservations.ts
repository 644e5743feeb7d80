import { statement } from '../../../db/statement';

/** A product whose reservation for the order was settled, and how many units. */
export interface SettledRow {
  productId: number;
  sku: string;
  quantity: number;
}

/**
 * The order will not be paid: its active reservations become released and their units are
 * available again (stock_reserved drops, on hand stays). Run after lockReservedProducts, in the
 * same transaction.
 */
export const releaseReservations = statement<SettledRow, [orderId: string]>(
  'inventory.release_reservations',
  `WITH r AS (
     UPDATE "Stock_Reservations"
     SET status = 'released', updated_at = now()
     WHERE order_id = $1 AND status = 'active'
     RETURNING product_id, quantity
   )
   UPDATE "Products" p
   SET stock_reserved = p.stock_reserved - r.quantity, updated_at = now()
   FROM r WHERE p.id = r.product_id
   RETURNING p.id AS "productId", p.sku, r.quantity`,
);
