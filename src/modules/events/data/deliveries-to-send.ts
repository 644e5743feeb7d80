import { statement } from '../../../db/statement';
import type { DeliveryStatus } from '../models';

/** What a delivery attempt needs, for the deliveries of one group of jobs: the delivery, its endpoint and its event. */
export interface DeliveryToSend {
  deliveryId: string;
  status: DeliveryStatus;
  attempts: number;
  endpointId: string;
  url: string;
  secret: string;
  enabled: boolean;
  eventId: string;
  type: string;
  sequence: number | null;
  apiVersion: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

export const deliveriesToSend = statement<DeliveryToSend, [deliveryIds: string[]]>(
  'events.deliveries_to_send',
  `SELECT d.id AS "deliveryId", d.status, d.attempts, w.id AS "endpointId", w.url, w.secret, w.enabled,
          e.id AS "eventId", e.type, e.sequence, e.api_version AS "apiVersion", e.data, e.created_at AS "createdAt"
   FROM "Webhook_Deliveries" d
   JOIN "Webhook_Endpoints" w ON w.id = d.endpoint_id
   JOIN "Events" e ON e.id = d.event_id
   WHERE d.id = ANY ($1::uuid[])`,
);
