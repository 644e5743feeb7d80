import { statement } from '../../../db/statement';

/**
 * Locks the products an order took out of stock, in ascending id order (the one lock order of
 * every stock change), before they are put back.
 */
export const lockCommittedProducts = statement<{ id: number }, [orderId: string]>(
  'inventory.lock_committed_products',
  `SELECT id FROM "Products"
   WHERE id IN (SELECT product_id FROM "Stock_Reservations" WHERE order_id = $1 AND status = 'committed')
   ORDER BY id FOR NO KEY UPDATE`,
);

/**
 * A refunded order's goods are back: what its committed reservations took out goes back on hand.
 * The reservations stay committed (they record what was sold); the refund's log tells the rest.
 */
export const restockCommitted = statement<{ productId: number; sku: string; quantity: number }, [orderId: string]>(
  'inventory.restock_committed',
  `WITH lines AS (
     SELECT product_id, sum(quantity)::int AS quantity FROM "Stock_Reservations"
     WHERE order_id = $1 AND status = 'committed' GROUP BY product_id
   )
   UPDATE "Products" p SET stock_on_hand = p.stock_on_hand + lines.quantity, updated_at = now()
   FROM lines WHERE p.id = lines.product_id
   RETURNING p.id AS "productId", p.sku, lines.quantity`,
);
