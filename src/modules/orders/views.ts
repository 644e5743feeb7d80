import { paymentView, refundView, type PaymentAudience } from '../payments';
import type { Order, OrderItem, OrderLog } from './models';
import { customerSafeLogText } from './order-log';
import { traceIdOf } from '../../observability/traces';

/**
 * The orders API's JSON shapes, built from the models. A view for a customer client (the default)
 * never shows a payment failure's technical detail; one for an admin client does.
 */
export type ViewAudience = PaymentAudience;

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

/** An "Order_Logs" row as the audience sees it: an admin client also sees the text of rows from before reason codes. */
export const logViewFor = (audience: ViewAudience) => (row: OrderLog) => {
  const { message, details } = audience === 'admin' ? row : customerSafeLogText(row);
  return {
    id: Number(row.id),
    event: row.event,
    fromStatus: row.fromStatus,
    toStatus: row.toStatus,
    attempt: row.attempt,
    message,
    details,
    jobId: row.jobId,
    requestId: row.requestId,
    createdAt: iso(row.createdAt),
  };
};

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

/**
 * GET /orders/:id: the order with its payments, refunds and timeline (loaded as `payments`,
 * `refunds` and `logs`), and the id of its trace (null while tracing was off when it was created).
 */
export function toOrderDetailView(order: Order, audience: ViewAudience = 'customer') {
  return {
    ...toOrderView(order),
    traceId: traceIdOf(order.traceparent),
    payments: (order.payments ?? []).map((p) => paymentView(p, audience)),
    refunds: (order.refunds ?? []).map(refundView),
    timeline: (order.logs ?? []).map(logViewFor(audience)),
  };
}

/** The 202 body as first answered: what a replay with the same Idempotency-Key gets back. */
export function acceptedView(order: Order): OrderView {
  const { id, customerId, currency, totalCents, items, createdAt } = toOrderView(order);
  return { id, status: 'pending', customerId, currency, totalCents, items, createdAt };
}
