/**
 * The order lifecycle, in one place: statuses, the transitions between them, the terminal set,
 * why an order fails, the events of its story in "Order_Logs", and the payment lease. SQL that
 * needs one of these takes it from here (see data/), so renaming or adding one is a change here.
 *
 *   pending ──reserve──▶ reserved ──charge ok──▶ completed
 *      │                    │
 *      │ OUT_OF_STOCK       │ PAYMENT_DECLINED | PAYMENT_RETRIES_EXHAUSTED | RESERVATION_EXPIRED
 *      ▼                    ▼
 *    failed               failed          pending | reserved ──cancel──▶ cancelled
 *
 *   completed ──refund confirmed by the provider──▶ refunded   (POST /orders/:id/refund, admin)
 */

export const ORDER_STATUSES = Object.freeze(['pending', 'reserved', 'completed', 'failed', 'cancelled', 'refunded'] as const);
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * Statuses where the order flow is over: no job owns the order and every order reaches one of
 * them. Only a refund moves one on (completed → refunded), and never back into the flow.
 */
export const TERMINAL_STATUSES = Object.freeze(['completed', 'failed', 'cancelled', 'refunded'] as const satisfies readonly OrderStatus[]);
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** Statuses whose jobs (reserve, charge, the sweeper) still own the order; cancel works only here. */
export const OPEN_STATUSES = Object.freeze(['pending', 'reserved'] as const satisfies readonly OrderStatus[]);
export type OpenStatus = (typeof OPEN_STATUSES)[number];

export const isTerminal = (status: string): status is TerminalStatus => (TERMINAL_STATUSES as readonly string[]).includes(status);
export const isOpen = (status: string): status is OpenStatus => (OPEN_STATUSES as readonly string[]).includes(status);

/** Every allowed status change; anything else is a bug, refused before it reaches the database. */
export const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = Object.freeze({
  pending: ['reserved', 'failed', 'cancelled'],
  reserved: ['completed', 'failed', 'cancelled'],
  completed: ['refunded'],
  failed: [],
  cancelled: [],
  refunded: [],
});

export const canTransition = (from: OrderStatus, to: OrderStatus): boolean => TRANSITIONS[from].includes(to);

export const FAILURE_REASONS = Object.freeze({
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  PAYMENT_RETRIES_EXHAUSTED: 'PAYMENT_RETRIES_EXHAUSTED',
  RESERVATION_EXPIRED: 'RESERVATION_EXPIRED',
} as const);
export type FailureReason = keyof typeof FAILURE_REASONS;

/** Every event that can appear in "Order_Logs"; an order's story starts with ORDER_CREATED and ends with its terminal event. */
export const ORDER_EVENTS = Object.freeze({
  ORDER_CREATED: 'ORDER_CREATED',
  STOCK_RESERVED: 'STOCK_RESERVED',
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  LOW_STOCK: 'LOW_STOCK',
  PAYMENT_ATTEMPT: 'PAYMENT_ATTEMPT',
  PAYMENT_FAILED: 'PAYMENT_FAILED',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  PAYMENT_SUCCEEDED: 'PAYMENT_SUCCEEDED',
  PAYMENT_RETRIES_EXHAUSTED: 'PAYMENT_RETRIES_EXHAUSTED',
  RESERVATION_EXPIRED: 'RESERVATION_EXPIRED',
  STOCK_COMMITTED: 'STOCK_COMMITTED',
  STOCK_RELEASED: 'STOCK_RELEASED',
  ORDER_COMPLETED: 'ORDER_COMPLETED',
  ORDER_FAILED: 'ORDER_FAILED',
  ORDER_CANCELLED: 'ORDER_CANCELLED',
  PAYMENT_DEFERRED: 'PAYMENT_DEFERRED',
  REFUND_REQUESTED: 'REFUND_REQUESTED',
  REFUND_SUCCEEDED: 'REFUND_SUCCEEDED',
  REFUND_FAILED: 'REFUND_FAILED',
  STOCK_RESTOCKED: 'STOCK_RESTOCKED',
  ORDER_REFUNDED: 'ORDER_REFUNDED',
} as const);
export type OrderEvent = keyof typeof ORDER_EVENTS;

/** The event that ends the story of an order in each terminal status. */
export const TERMINAL_EVENTS: Readonly<Record<TerminalStatus, OrderEvent>> = Object.freeze({
  completed: 'ORDER_COMPLETED',
  failed: 'ORDER_FAILED',
  cancelled: 'ORDER_CANCELLED',
  refunded: 'ORDER_REFUNDED',
});

/**
 * The payment lease: each charge attempt holds the order for the provider call's timeout plus a
 * margin, so cancel, the expiry sweeper and the dead-letter worker cannot close an order whose
 * payment is in flight. It is held while its end lies in the future on the database's clock
 * (data/payment-lease.ts, the one place that test is written); no lease (NULL) is never held.
 */
export const PAYMENT_LEASE = Object.freeze({
  marginSeconds: 10,
  seconds: (paymentTimeoutMs: number): number => Math.ceil(paymentTimeoutMs / 1000) + PAYMENT_LEASE.marginSeconds,
});

/** Stable per order, so a retry after a lost response never charges twice. */
export const paymentIdempotencyKey = (orderId: string) => `orderloop-order-${orderId}`;

/** Stable per order (one full refund per order), so a retried refund is never paid out twice. */
export const refundIdempotencyKey = (orderId: string) => `orderloop-refund-${orderId}`;
