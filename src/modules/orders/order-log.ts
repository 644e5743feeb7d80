import type { Sequelize, Transaction } from 'sequelize';
import { appendLogs } from './data/append-logs';
import { transitionMany } from './data/transition-many';
import { recordOrderFinished } from '../../observability/metrics';
import { canTransition, isTerminal, type FailureReason, type OrderEvent, type OrderStatus, type TerminalStatus } from './lifecycle';

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
  const finished = changes.filter((c) => changed.has(c.orderId) && isTerminal(c.to));
  if (finished.length) {
    transaction.afterCommit(() => {
      for (const c of finished) recordOrderFinished(c.to as TerminalStatus, c.reason ?? null, changed.get(c.orderId));
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
