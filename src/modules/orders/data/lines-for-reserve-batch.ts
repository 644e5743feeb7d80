import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { OrderStatus } from '../lifecycle';
import type { OrderItem } from '../models';

const pending: OrderStatus = 'pending';

/**
 * The batch reserve's first read: the lines of every order of the batch that is still pending,
 * in arrival order (created_at, id), the order rows locked in id order (so two batches, or a
 * batch and a cancel, cannot deadlock on them) and left alone when no longer pending.
 */
export const linesForReserveBatch = statement<Pick<InferAttributes<OrderItem>, 'orderId' | 'productId' | 'sku' | 'quantity'>, [orderIds: string[]]>(
  'orders.lines_for_reserve_batch',
  `WITH locked AS (
     SELECT id, created_at FROM "Orders" WHERE id = ANY($1::uuid[]) AND status = '${pending}' ORDER BY id FOR NO KEY UPDATE
   )
   SELECT i.order_id AS "orderId", i.product_id AS "productId", i.sku, i.quantity
   FROM locked o JOIN "Order_Items" i ON i.order_id = o.id
   ORDER BY o.created_at, o.id, i.id`,
);
