/** Every pg-boss queue the service uses; the payload type follows the queue name. */
export const QUEUES = Object.freeze({
  ORDER_RESERVE: 'order-reserve',
  ORDER_CHARGE: 'order-charge',
  ORDER_CHARGE_DEAD: 'order-charge-dead',
  RESERVATION_SWEEP: 'reservation-sweep',
  INVENTORY_SYNC: 'inventory-sync',
} as const);

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface JobPayloads {
  'order-reserve': { orderId: string; requestId?: string };
  'order-charge': { orderId: string; requestId?: string };
  'order-charge-dead': { orderId: string; requestId?: string };
  'reservation-sweep': Record<string, never>;
  'inventory-sync': { trigger: 'cron' | 'manual'; tick?: string };
}
