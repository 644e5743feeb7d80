import { statement } from '../../../db/statement';
import type { SettledRow } from './release-reservations';

/**
 * Payment done: the order's active reservations become committed and their units leave stock
 * (on hand and reserved both drop). Run after lockReservedProducts, in the same transaction.
 */
export const commitReservations = statement<SettledRow, [orderId: string]>(
  'inventory.commit_reservations',
  `WITH r AS (
     UPDATE "Stock_Reservations"
     SET status = 'committed', updated_at = now()
     WHERE order_id = $1 AND status = 'active'
     RETURNING product_id, quantity
   )
   UPDATE "Products" p
   SET stock_on_hand = p.stock_on_hand - r.quantity, stock_reserved = p.stock_reserved - r.quantity, updated_at = now()
   FROM r WHERE p.id = r.product_id
   RETURNING p.id AS "productId", p.sku, r.quantity`,
);
