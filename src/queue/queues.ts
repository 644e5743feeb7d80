/** Every pg-boss queue the service uses; the payload type follows the queue name. */
export const QUEUES = Object.freeze({
  ORDER_RESERVE: 'order-reserve',
  ORDER_CHARGE: 'order-charge',
  ORDER_CHARGE_DEAD: 'order-charge-dead',
  ORDER_REFUND: 'order-refund',
  RESERVATION_SWEEP: 'reservation-sweep',
  INVENTORY_SYNC: 'inventory-sync',
  WEBHOOK_DELIVER: 'webhook-deliver',
} as const);

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * `traceparent`: the W3C trace context the job's span joins (src/observability/traces.ts): the
 * order's trace for its steps; absent while tracing is off.
 */
interface Traced {
  traceparent?: string;
}

export interface JobPayloads {
  'order-reserve': { orderId: string; requestId?: string } & Traced;
  /** `deferrals`: how many times the open circuit breaker has put this charge off so far. */
  'order-charge': { orderId: string; requestId?: string; deferrals?: number } & Traced;
  'order-charge-dead': { orderId: string; requestId?: string } & Traced;
  'order-refund': { orderId: string; requestId?: string; deferrals?: number } & Traced;
  'reservation-sweep': Record<string, never>;
  'inventory-sync': { trigger: 'cron' | 'manual'; tick?: string };
  /** `manual`: POST .../retry's one extra attempt, after which the delivery is settled either way. */
  'webhook-deliver': { deliveryId: string; manual?: boolean } & Traced;
}
