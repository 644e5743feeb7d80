import { paymentView } from '../payments';
import type { Order, OrderItem, OrderLog } from './models';

/** The orders API's JSON shapes, built from the models. */

export interface OrderItemView {
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
}

export interface OrderView {
  id: string;
  status: string;
  customerId: string;
  currency: string;
  totalCents: number;
  items: OrderItemView[];
  createdAt: string;
  updatedAt?: string;
  failureReason?: string | null;
  paymentAttempts?: number;
}

const iso = (value: Date | string) => new Date(value).toISOString();

export function toItemView(item: Pick<OrderItem, 'sku' | 'name' | 'quantity' | 'unitPriceCents'>): OrderItemView {
  return { sku: item.sku, name: item.name, quantity: item.quantity, unitPriceCents: item.unitPriceCents };
}

export function toLogView(row: OrderLog) {
  return {
    id: Number(row.id),
    event: row.event,
    fromStatus: row.fromStatus,
    toStatus: row.toStatus,
    attempt: row.attempt,
    message: row.message,
    details: row.details,
    jobId: row.jobId,
    requestId: row.requestId,
    createdAt: iso(row.createdAt),
  };
}

/** An order with its items (loaded as `items`). */
export function toOrderView(order: Order): OrderView {
  return {
    id: order.id,
    status: order.status,
    customerId: order.customerId,
    currency: order.currency,
    totalCents: Number(order.totalCents),
    failureReason: order.failureReason,
    paymentAttempts: order.paymentAttempts,
    items: (order.items ?? []).map(toItemView),
    createdAt: iso(order.createdAt),
    updatedAt: iso(order.updatedAt),
  };
}

/** GET /orders/:id: the order with its payments and its timeline (loaded as `payments` and `logs`). */
export function toOrderDetailView(order: Order) {
  return {
    ...toOrderView(order),
    payments: (order.payments ?? []).map(paymentView),
    timeline: (order.logs ?? []).map(toLogView),
  };
}

/** The 202 body as first answered: what a replay with the same Idempotency-Key gets back. */
export function acceptedView(order: Order): OrderView {
  const { id, customerId, currency, totalCents, items, createdAt } = toOrderView(order);
  return { id, status: 'pending', customerId, currency, totalCents, items, createdAt };
}
