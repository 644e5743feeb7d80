import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';

/** Every event that can appear in "Order_Logs"; an order's story starts with ORDER_CREATED and ends with a terminal one. */
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
} as const);

export type OrderEvent = keyof typeof ORDER_EVENTS;
export const TERMINAL_EVENTS: readonly OrderEvent[] = Object.freeze(['ORDER_COMPLETED', 'ORDER_FAILED', 'ORDER_CANCELLED']);

export interface OrderLogEntry {
  event: OrderEvent;
  message: string;
  fromStatus?: string | null;
  toStatus?: string | null;
  attempt?: number | null;
  details?: Record<string, unknown> | null;
  jobId?: string | null;
  requestId?: string | null;
}

function logRows(entries: OrderLogEntry[]): string {
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

/** INSERT of the log rows given as a jsonb array in `$<param>`, for the order whose id `orderIdSql` yields. */
function insertLogsSql(orderIdSql: string, from: string, param: number): string {
  return `INSERT INTO "Order_Logs" (order_id, event, from_status, to_status, attempt, message, details, job_id, request_id)
     SELECT ${orderIdSql}, e.v->>'event', e.v->>'from_status', e.v->>'to_status', (e.v->>'attempt')::int, e.v->>'message',
            NULLIF(e.v->'details', 'null'::jsonb), (e.v->>'job_id')::uuid, e.v->>'request_id'
     FROM ${from}jsonb_array_elements($${param}::jsonb) WITH ORDINALITY AS e(v, ord)
     ORDER BY e.ord`;
}

/** Writes several log rows of one order in one statement. */
export async function appendOrderLogs(
  sequelize: Sequelize,
  orderId: string,
  entries: OrderLogEntry[],
  transaction?: Transaction,
): Promise<void> {
  if (!entries.length) return;
  await sequelize.query(insertLogsSql('$1::uuid', '', 2), { bind: [orderId, logRows(entries)], transaction });
}

/**
 * Moves an order from one status to another with a conditional update and writes its log rows,
 * in one statement: nothing is logged unless the status really changed. Returns the order's
 * created_at when it changed, null when the order was not in `from` (a repeated job).
 */
export async function transitionOrder(
  sequelize: Sequelize,
  change: { orderId: string; from: string; to: string; reason?: string | null },
  entries: OrderLogEntry[],
  transaction: Transaction,
): Promise<Date | null> {
  const rows = await sequelize.query<{ created_at: Date }>(
    `WITH changed AS (
       UPDATE "Orders" SET status = $3, failure_reason = COALESCE($4, failure_reason), payment_lease_until = NULL, updated_at = now()
       WHERE id = $1 AND status = $2
       RETURNING id, created_at
     ), logged AS (
       ${insertLogsSql('changed.id', 'changed, ', 5)}
     )
     SELECT created_at FROM changed`,
    { bind: [change.orderId, change.from, change.to, change.reason ?? null, logRows(entries)], transaction, type: QueryTypes.SELECT },
  );
  return rows[0]?.created_at ?? null;
}
