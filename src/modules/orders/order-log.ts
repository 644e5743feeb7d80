import type { Sequelize, Transaction } from 'sequelize';
import { appendLogs } from './data/append-logs';
import { transition } from './data/transition';
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

/** The entries as the one jsonb parameter the log-writing statements take (data/log-rows.ts). */
function logRowsParam(entries: OrderLogEntry[]): string {
  return JSON.stringify(entries.map((e) => ({
    event: e.event,
    message: e.message,
    from_status: e.fromStatus ?? null,
    to_status: e.toStatus ?? null,
    attempt: e.attempt ?? null,
    details: e.details ?? null,
    job_id: e.jobId ?? null,
    request_id: e.requestId ?? null,
  })));
}

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
