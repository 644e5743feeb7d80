import type { Sequelize, Transaction } from 'sequelize';
import { appendLogs } from './data/append-logs';
import { freeLeasesWithLogs } from './data/free-leases';
import { transitionMany } from './data/transition-many';
import { recordOrderFinished } from '../../observability/metrics';
import { isPaymentFailureCode, paymentFailureMessage, paymentReasonOf, type PaymentFailureCode } from '../payments';
import { canTransition, isOpen, isTerminal, type FailureReason, type OrderEvent, type OrderStatus, type TerminalStatus } from './lifecycle';

/** The statuses an order's flow ends in (a refund comes after). */
type FinishedStatus = Exclude<TerminalStatus, 'refunded'>;

/** One row of an order's story, as the flow writes it. */
export interface OrderLogEntry {
  event: OrderEvent;
  message: string;
  fromStatus?: OrderStatus | null;
  toStatus?: OrderStatus | null;
  attempt?: number | null;
  details?: Record<string, unknown> | null;
  jobId?: string | null;
  requestId?: string | null;
}

/** A failed charge attempt as its log row tells it. */
export interface FailedAttempt {
  outcome: 'failed' | 'declined';
  attempt: number;
  code: PaymentFailureCode;
  durationMs?: number | null;
  /** With both, the message says whether another attempt follows. */
  maxAttempts?: number;
  final?: boolean;
  jobId?: string | null;
}

/**
 * PAYMENT_FAILED or PAYMENT_DECLINED for one attempt. Customers read "Order_Logs", so the row holds
 * the reason code and its plain message, never the provider's or the HTTP library's text (that
 * goes to the attempt's log line and the admin-only "Payments".error_detail).
 */
export function paymentFailedEntry(a: FailedAttempt): OrderLogEntry {
  const plain = paymentFailureMessage(a.code).replace(/\.$/, '');
  const details = { errorCode: a.code, ...(a.durationMs === undefined || a.durationMs === null ? {} : { durationMs: a.durationMs }) };
  if (a.outcome === 'declined') {
    return { event: 'PAYMENT_DECLINED', attempt: a.attempt, message: `Payment declined on attempt ${a.attempt}: ${a.code} (${plain})`, details, jobId: a.jobId };
  }
  const of = a.maxAttempts ? ` of ${a.maxAttempts}` : '';
  const next = a.final === undefined || !a.maxAttempts ? '' : a.final ? '; no retries left' : `; will retry (attempt ${a.attempt + 1} of ${a.maxAttempts} next)`;
  return { event: 'PAYMENT_FAILED', attempt: a.attempt, message: `Payment attempt ${a.attempt}${of} failed: ${a.code} (${plain})${next}`, details, jobId: a.jobId };
}

/**
 * The message and details a customer may read of a payment failure's log row. Rows written before
 * reason codes held the library's message (hosts, addresses, ports) in both: those are told again
 * from their stored code. Other rows come back as they are.
 */
export function customerSafeLogText(
  row: { event: string; attempt: number | null; message: string; details: Record<string, unknown> | null },
): { message: string; details: Record<string, unknown> | null } {
  if (row.event !== 'PAYMENT_FAILED' && row.event !== 'PAYMENT_DECLINED') return { message: row.message, details: row.details };
  const stored = row.details?.errorCode;
  if (isPaymentFailureCode(stored) && !('error' in (row.details ?? {}))) return { message: row.message, details: row.details };
  const outcome = row.event === 'PAYMENT_DECLINED' ? 'declined' : 'failed';
  const code = paymentReasonOf(outcome, typeof stored === 'string' ? stored : null) ?? 'PAYMENT_ERROR';
  const durationMs = typeof row.details?.durationMs === 'number' ? row.details.durationMs : null;
  const { message, details } = paymentFailedEntry({ outcome, attempt: row.attempt ?? 0, code, durationMs });
  return { message, details: details ?? null };
}

/** The entries as rows of the jsonb parameter the log-writing statements take (data/log-rows.ts). */
function logRows(entries: OrderLogEntry[]) {
  return entries.map((e) => ({
    event: e.event,
    message: e.message,
    from_status: e.fromStatus ?? null,
    to_status: e.toStatus ?? null,
    attempt: e.attempt ?? null,
    details: e.details ?? null,
    job_id: e.jobId ?? null,
    request_id: e.requestId ?? null,
  }));
}

const logRowsParam = (entries: OrderLogEntry[]): string => JSON.stringify(logRows(entries));

/** Writes several log rows of one order in one statement. */
export async function appendOrderLogs(
  sequelize: Sequelize,
  orderId: string,
  entries: OrderLogEntry[],
  transaction?: Transaction,
): Promise<void> {
  if (!entries.length) return;
  await appendLogs.rows(sequelize, [orderId, logRowsParam(entries)], transaction);
}

/**
 * Frees the payment lease of each order whose attempt failed and will be tried again, with its
 * log rows, for many orders in one statement.
 */
export async function freeLeasesAndLog(
  sequelize: Sequelize,
  orders: ReadonlyArray<{ orderId: string; entries: OrderLogEntry[] }>,
  transaction: Transaction,
): Promise<void> {
  if (!orders.length) return;
  await freeLeasesWithLogs.rows(sequelize, [JSON.stringify(orders.map((o) => ({ order_id: o.orderId, logs: logRows(o.entries) })))], transaction);
}

/** One order's status change and its log rows, as transitionOrders takes them. */
export interface OrderTransition {
  orderId: string;
  from: OrderStatus;
  to: OrderStatus;
  reason?: FailureReason | null;
  entries: OrderLogEntry[];
}

/**
 * Moves orders from one status to another with conditional updates and writes each one's log
 * rows, all in one statement; an order that reached a terminal status is counted in the metrics
 * once the transaction commits. Returns the created_at of each order that changed (an order not
 * in its `from` is left out: a repeated job, or another path won). A change lifecycle.ts does not
 * allow is a bug: it throws.
 */
export async function transitionOrders(sequelize: Sequelize, changes: OrderTransition[], transaction: Transaction): Promise<Map<string, Date>> {
  if (!changes.length) return new Map();
  for (const c of changes) if (!canTransition(c.from, c.to)) throw new Error(`order ${c.orderId}: no transition ${c.from} -> ${c.to}`);
  const param = JSON.stringify(changes.map((c) => ({
    order_id: c.orderId,
    from_status: c.from,
    to_status: c.to,
    failure_reason: c.reason ?? null,
    logs: logRows(c.entries),
  })));
  const changed = new Map((await transitionMany.rows(sequelize, [param], transaction)).map((r) => [r.orderId, r.createdAt]));
  // A refund moves an order that had already finished: it is not counted as finishing again.
  const finished = changes.filter((c) => changed.has(c.orderId) && isOpen(c.from) && isTerminal(c.to));
  if (finished.length) {
    transaction.afterCommit(() => {
      for (const c of finished) recordOrderFinished(c.to as FinishedStatus, c.reason ?? null, changed.get(c.orderId));
    });
  }
  return changed;
}

/** transitionOrders for one order: its created_at when it changed, null when it was not in `from`. */
export async function transitionOrder(
  sequelize: Sequelize,
  change: Omit<OrderTransition, 'entries'>,
  entries: OrderLogEntry[],
  transaction: Transaction,
): Promise<Date | null> {
  return (await transitionOrders(sequelize, [{ ...change, entries }], transaction)).get(change.orderId) ?? null;
}
