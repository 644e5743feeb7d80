/**
 * What orderloop tells the outside world: the event types, the payload's version, and the
 * channel that carries each committed event to live streams. Webhook endpoints subscribe to
 * these types (or to "*"); `ping` is sent only by POST /webhooks/:id/test.
 */
export const EVENT_TYPES = Object.freeze([
  'order.created',
  'order.reserved',
  'order.completed',
  'order.failed',
  'order.cancelled',
  'order.refunded',
  'inventory.low_stock',
  'inventory.sync.succeeded',
  'inventory.sync.failed',
] as const);
export type EventType = (typeof EVENT_TYPES)[number] | 'ping';

/** Subscribes an endpoint to every type, including those added later. */
export const ALL_EVENTS = '*';

/** Changes when the payload's shape changes in a way a receiver must know about. */
export const API_VERSION = '2026-12-01';

/** Order events whose order's flow is over: a live stream of the order ends after one of them. */
export const FINAL_ORDER_EVENTS: ReadonlySet<string> = new Set(['order.completed', 'order.failed', 'order.cancelled', 'order.refunded']);

/** The NOTIFY channel the "Events" trigger (migration 20261206100000) sends each event on. */
export const EVENTS_CHANNEL = 'orderloop_events';
