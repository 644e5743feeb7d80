import type { Sequelize, Transaction } from 'sequelize';
import { appendLogs } from './data/append-logs';
import { transition } from './data/transition';
import { transitionMany } from './data/transition-many';
import { recordOrderFinished } from '../../observability/metrics';
import { canTransition, isTerminal, type FailureReason, type OrderEvent, type OrderStatus } from './lifecycle';

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

/**
 * Moves an order from one status to another with a conditional update and writes its log rows,
 * in one statement; an order that reached a terminal status is counted in the metrics once the
 * transaction commits. Returns the order's created_at when it changed, null when the order was
 * not in `from` (a repeated job). A change lifecycle.ts does not allow is a bug: it throws.
 */
export async function transitionOrder(
  sequelize: Sequelize,
  change: { orderId: string; from: OrderStatus; to: OrderStatus; reason?: FailureReason | null },
  entries: OrderLogEntry[],
  transaction: Transaction,
): Promise<Date | null> {
  if (!canTransition(change.from, change.to)) throw new Error(`order ${change.orderId}: no transition ${change.from} -> ${change.to}`);
  const row = await transition.one(sequelize, [change.orderId, change.from, change.to, change.reason ?? null, logRowsParam(entries)], transaction);
  if (!row) return null;
  const { to } = change;
  if (isTerminal(to)) transaction.afterCommit(() => recordOrderFinished(to, change.reason ?? null, row.created_at));
  return row.created_at;
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
 * transitionOrder for many orders in one statement: each change is conditional on its own `from`,
 * with its own log rows. Returns the ids of the orders that changed.
 */
export async function transitionOrders(sequelize: Sequelize, changes: OrderTransition[], transaction: Transaction): Promise<Set<string>> {
  if (!changes.length) return new Set();
  for (const c of changes) if (!canTransition(c.from, c.to)) throw new Error(`order ${c.orderId}: no transition ${c.from} -> ${c.to}`);
  const param = JSON.stringify(changes.map((c) => ({
    order_id: c.orderId,
    from_status: c.from,
    to_status: c.to,
    failure_reason: c.reason ?? null,
    logs: logRows(c.entries),
  })));
  const rows = await transitionMany.rows(sequelize, [param], transaction);
  const byId = new Map(changes.map((c) => [c.orderId, c]));
  const finished = rows.filter((r) => isTerminal(byId.get(r.order_id)!.to));
  if (finished.length) {
    transaction.afterCommit(() => {
      for (const r of finished) {
        const c = byId.get(r.order_id)!;
        recordOrderFinished(c.to as 'completed' | 'failed' | 'cancelled', c.reason ?? null, r.created_at);
      }
    });
  }
  return new Set(rows.map((r) => r.order_id));
}
