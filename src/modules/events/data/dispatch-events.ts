import { statement } from '../../../db/statement';
import { ALL_EVENTS } from '../catalog';

/**
 * The relay's step: takes up to $1 undispatched events, oldest first (skipping those another
 * relay holds), makes one delivery per event and subscribed enabled endpoint, and marks the
 * events dispatched. A customer's endpoint gets only events of that customer's orders. Returns
 * the deliveries made (their jobs are sent in the same transaction, each in its order's trace) and
 * how many events it took.
 */
export const dispatchEvents = statement<{ deliveryId: string | null; traceparent: string | null; events: number }, [limit: number]>(
  'events.dispatch_events',
  `WITH batch AS (
     SELECT id, type, customer_id, order_id FROM "Events"
     WHERE dispatched_at IS NULL
     ORDER BY created_at
     LIMIT $1
     FOR UPDATE SKIP LOCKED
   ), marked AS (
     UPDATE "Events" e SET dispatched_at = now() FROM batch WHERE e.id = batch.id
   ), made AS (
     INSERT INTO "Webhook_Deliveries" (endpoint_id, event_id)
     SELECT w.id, b.id
     FROM batch b
     JOIN "Webhook_Endpoints" w
       ON w.enabled AND (b.type = ANY (w.events) OR '${ALL_EVENTS}' = ANY (w.events))
      AND (w.customer_id IS NULL OR w.customer_id = b.customer_id)
     ON CONFLICT (event_id, endpoint_id) DO NOTHING
     RETURNING id, event_id
   )
   SELECT made.id AS "deliveryId", o.traceparent, (SELECT count(*) FROM batch)::int AS events
   FROM made JOIN batch b ON b.id = made.event_id LEFT JOIN "Orders" o ON o.id = b.order_id
   UNION ALL
   SELECT NULL, NULL, (SELECT count(*) FROM batch)::int WHERE NOT EXISTS (SELECT 1 FROM made)`,
);
