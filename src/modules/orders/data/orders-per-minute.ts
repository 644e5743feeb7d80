import { statement } from '../../../db/statement';
import type { Order } from '../models';

/**
 * Orders created in each of the last 60 minutes by current status, on the created_at index, with
 * the database's current minute (present even when no order matched), so the buckets follow the
 * database's clock like every other time rule here.
 */
export const ordersPerMinute = statement<{ nowMinute: Date; minute: Date | null; status: Order['status'] | null; count: string | null }>(
  'orders.orders_per_minute',
  `WITH bounds AS (SELECT date_trunc('minute', now()) AS now_minute)
   SELECT b.now_minute AS "nowMinute", c.minute, c.status, c.count
   FROM bounds b
   LEFT JOIN LATERAL (
     SELECT date_trunc('minute', o.created_at) AS minute, o.status, count(*) AS count
     FROM "Orders" o
     WHERE o.created_at >= b.now_minute - interval '59 minutes'
     GROUP BY 1, 2
   ) c ON true`,
);
