import { statement } from '../../../db/statement';

/** A stored event with what a payload needs. */
export interface StoredEvent {
  id: string;
  type: string;
  orderId: string | null;
  customerId: string | null;
  sequence: number | null;
  apiVersion: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

const COLUMNS = `id, type, order_id AS "orderId", customer_id AS "customerId", sequence, api_version AS "apiVersion", data, created_at AS "createdAt"`;

/** An order's events after the one numbered $2, in order: what a live stream has not sent yet. */
export const orderEventsAfter = statement<StoredEvent, [orderId: string, afterSequence: number]>(
  'events.order_events_after',
  `SELECT ${COLUMNS} FROM "Events" WHERE order_id = $1 AND sequence > $2 ORDER BY sequence`,
);

/** Events by id, oldest first: the admin stream reads the events its notices named. */
export const eventsByIds = statement<StoredEvent, [ids: string[]]>(
  'events.events_by_ids',
  `SELECT ${COLUMNS} FROM "Events" WHERE id = ANY ($1::uuid[]) ORDER BY created_at, id`,
);
