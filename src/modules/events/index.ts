/**
 * The events module's door: the "Events" outbox (every change a shop may hear of is written there
 * in the change's own transaction), webhook endpoints with their signed, retried deliveries, and
 * the live streams (GET /orders/:id/events, GET /events) fed by PostgreSQL NOTIFY.
 */
export { eventsRouter } from './routes';
export { registerEventJobs } from './jobs';
export { EventHub, type EventNotice, type EventListener } from './hub';
export { EVENT_TYPES, ALL_EVENTS, API_VERSION, FINAL_ORDER_EVENTS, type EventType } from './catalog';
export { publishEvents, eventPayload, type NewEvent, type EventPayload } from './outbox';
export { insertOrderEventsFrom, orderEventColumns, storedItemsSql } from './data/order-events-sql';
export { streamOrderEvents, type OrderSnapshot } from './streams';
export { WebhookService, webhookOverview } from './endpoints';
export { signatureHeader } from './signature';
export { OutboxEvent, WebhookEndpoint, WebhookDelivery, WebhookAttempt, DELIVERY_STATUSES, initEventModels, type DeliveryStatus } from './models';
