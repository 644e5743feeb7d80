import type { Pool } from 'pg';
import { inspectJobs } from '../src/queue/inspect';
import { QUEUES } from '../src/queue/queues';
import { rows, sleep } from './cluster';

/** What one POST /orders/create got back. */
export interface OrderAttempt {
  index: number;
  status: number;
  /** Error code from the body (INSUFFICIENT_STOCK, SERVICE_UNAVAILABLE, …), or the client error. */
  code?: string;
  orderId?: string;
  ms: number;
  sentAt: number;
}

export interface OrderBody {
  customerId: string;
  items: Array<{ sku: string; quantity: number }>;
}

export interface LoadOptions {
  count: number;
  concurrency: number;
  /** Start at most this many requests per second (default: as fast as the concurrency allows). */
  perSecond?: number;
  body(index: number): OrderBody;
  /** Per-request timeout; a request that times out counts as status 0 / TIMEOUT. */
  timeoutMs?: number;
  idempotencyKey?(index: number): string;
}

/** POSTs `count` orders with bounded concurrency, paced when `perSecond` is set. */
export async function sendOrders(apiUrl: string, token: string, options: LoadOptions): Promise<OrderAttempt[]> {
  const results: OrderAttempt[] = [];
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next;
      next += 1;
      if (index >= options.count) return;
      if (options.perSecond) {
        const due = started + (index * 1000) / options.perSecond;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      results.push(await postOrder(apiUrl, token, options.body(index), index, options.timeoutMs ?? 15_000, options.idempotencyKey?.(index)));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return results.sort((a, b) => a.index - b.index);
}

export async function postOrder(apiUrl: string, token: string, body: OrderBody, index: number, timeoutMs: number, idempotencyKey?: string): Promise<OrderAttempt> {
  const sentAt = Date.now();
  try {
    const res = await fetch(`${apiUrl}/orders/create`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${token}`,
        ...(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: { order?: { id?: string }; error?: { code?: string } } = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the status
    }
    return { index, status: res.status, code: parsed.error?.code, orderId: parsed.order?.id, ms: Date.now() - sentAt, sentAt };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    const code = e.name === 'TimeoutError' ? 'CLIENT_TIMEOUT' : (e.cause?.code ?? e.name);
    return { index, status: 0, code, ms: Date.now() - sentAt, sentAt };
  }
}

/** Counts of answers by status (and code for errors): {"202": 480, "409 INSUFFICIENT_STOCK": 20}. */
export function answerCounts(attempts: OrderAttempt[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of attempts) {
    const key = a.status === 202 ? '202' : `${a.status} ${a.code ?? ''}`.trim();
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/**
 * How many orders are pending or reserved; how many refunds are still on their way (`requested`),
 * or still to be looked for: `order-refund` jobs yet to run, such as the check for a late charge
 * an order closed after payment attempts gets one payment lease later.
 */
export async function openWork(pool: Pool): Promise<{ orders: number; refunds: number }> {
  const [row] = await rows<{ open: string; refunds: string | null }>(
    pool,
    `SELECT (SELECT count(*) FROM "Orders" WHERE status IN ('pending', 'reserved')) AS open, to_regclass('"Refunds"')::text AS refunds`,
  );
  let refunds = 0;
  if (row.refunds !== null) {
    const [r] = await rows<{ n: string }>(pool, `SELECT count(*) AS n FROM "Refunds" WHERE status = 'requested'`);
    const jobs = (await inspectJobs(pool).countsByQueueAndState())
      .filter((c) => c.queue === QUEUES.ORDER_REFUND && ['created', 'retry', 'active'].includes(c.state));
    refunds = Number(r.n) + jobs.reduce((n, c) => n + c.count, 0);
  }
  return { orders: Number(row.open), refunds };
}

/**
 * Waits until no order in the database is pending or reserved and no refund is still to be made
 * or looked for; returns how many of those are still open.
 */
export async function waitForAllTerminal(pool: Pool, timeoutMs: number, onProgress?: (open: number) => void): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let open = Number.POSITIVE_INFINITY;
  let lastReport = 0;
  while (Date.now() < deadline) {
    try {
      const work = await openWork(pool);
      open = work.orders + work.refunds;
      if (open === 0) return 0;
      if (onProgress && Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        onProgress(open);
      }
    } catch {
      // the database may be coming back
    }
    await sleep(500);
  }
  return open;
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A GET with a hard timeout: status and elapsed ms (status 0 when no answer came). */
export async function timedGet(url: string, token: string | undefined, timeoutMs: number): Promise<{ status: number; ms: number; code?: string }> {
  const started = Date.now();
  try {
    const res = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      // keep the status
    }
    return { status: res.status, ms: Date.now() - started, code };
  } catch (error) {
    return { status: 0, ms: Date.now() - started, code: (error as Error).name === 'TimeoutError' ? 'CLIENT_TIMEOUT' : (error as Error).message };
  }
}

export async function putJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`PUT ${url} answered ${res.status}: ${await res.text()}`);
}
