import { statement } from '../../../db/statement';
import type { OrderStatus } from '../lifecycle';

/**
 * The reserve step's first read, on the hot path: the order's status and lines in one round
 * trip, the order row locked (not its items) so a cancel or a second delivery waits. Kept as a
 * prepared statement: a model query with an include and a lock would be built and sent unprepared
 * for every order.
 */
export const linesForReserve = statement<
  { status: OrderStatus; product_id: number; sku: string; quantity: number },
  [orderId: string]
>(
  'orders.lines_for_reserve',
  `SELECT o.status, i.product_id, i.sku, i.quantity
   FROM "Orders" o JOIN "Order_Items" i ON i.order_id = o.id
   WHERE o.id = $1 FOR NO KEY UPDATE OF o`,
);
