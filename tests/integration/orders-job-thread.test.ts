import fs from 'node:fs';
import { TokenService } from '../../src/modules/auth';
import { eventually, killAllChildren, spawnService, type ChildService } from '../helpers/child-service';
import { adminQuery } from '../helpers/pg';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db';
import { loadConfig } from '../../src/config';

const JWT_SECRET = 'job-thread-test-secret-of-at-least-32-characters';

async function adminToken(): Promise<string> {
  return new TokenService(JWT_SECRET, 600).issue({ clientId: 'job-thread-test', role: 'admin', customerId: null });
}

async function request(child: ChildService, method: string, path: string, body?: unknown): Promise<{ status: number; body: { order: { id: string; status: string; totalCents: number } }; text: string }> {
  const res = await fetch(`${child.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null };
}

/** The Linux nice value of each thread of `pid`, by thread name. */
function niceByThread(pid: number): Array<{ name: string; nice: number }> {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { name: fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), nice: Number(fields[16]) };
  });
}

async function orderCompletes(child: ChildService, db: TestDatabase, sku: string): Promise<void> {
  // No API creates products (they come from the catalog seeder and the warehouse sync).
  await adminQuery(db.url, `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold) VALUES ($1, 'Thread test', 700, 'EUR', 5, 0)`, [sku]);
  const created = await request(child, 'POST', '/orders/create', { customerId: 'cust_thread', items: [{ sku, quantity: 2 }] });
  expect(created.status).toBe(202);
  const done = await eventually(async () => {
    const res = await request(child, 'GET', `/orders/${created.body.order.id}`);
    return res.body.order.status === 'completed' ? res.body.order : null;
  }, 30_000, 200);
  expect(done.totalCents).toBe(1400);
  const read = await request(child, 'GET', `/products/${sku}`);
  expect(read.status).toBe(200);
  expect((read.body as unknown as { product: unknown }).product).toMatchObject({ stockOnHand: 3, stockReserved: 0 });
}

/** The value of one series in a Prometheus text exposition, or null. */
function series(text: string, line: string): number | null {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(found.lastIndexOf(' ') + 1)) : null;
}

describe('ROLE=all runs its jobs in a worker thread of the same process', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await killAllChildren();
    await db.drop();
  });

  it('when an order is posted to a ROLE=all process, then it completes, /metrics counts it once with the process metrics once, and only the job thread runs at the lower priority', async () => {
    const child = await spawnService({ DATABASE_URL: db.url, JWT_SECRET, RATE_LIMIT_ORDERS_PER_MINUTE: '0' });
    await child.waitForReady(30_000);

    await orderCompletes(child, db, `THREAD-${Date.now()}`);

    const metrics = await request(child, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    // Counted by the job thread, served by the HTTP thread.
    expect(series(metrics.text, 'orderloop_orders_finished_total{status="completed",reason="none"}')).toBe(1);
    expect(series(metrics.text, 'orderloop_payment_attempts_total{outcome="succeeded"}')).toBe(1);
    // Counted by the HTTP thread.
    expect(series(metrics.text, 'orderloop_orders_created_total')).toBe(1);
    expect(metrics.text.match(/^orderloop_process_cpu_seconds_total /gm)).toHaveLength(1);

    const threads = niceByThread(child.process.pid!);
    expect(threads.filter((t) => t.nice === 19)).toHaveLength(1);
    expect(threads.find((t) => t.name === 'node')?.nice).toBe(0);

    expect((await child.stop('SIGTERM', 15_000)).code).toBe(0);
  });

  it('when EVENTS_THREAD=true, then the webhook relay and deliveries get a second thread at the lower priority and the order still completes', async () => {
    const child = await spawnService({ DATABASE_URL: db.url, JWT_SECRET, RATE_LIMIT_ORDERS_PER_MINUTE: '0', EVENTS_THREAD: 'true' });
    await child.waitForReady(30_000);
    await orderCompletes(child, db, `TWOTHREADS-${Date.now()}`);
    expect(niceByThread(child.process.pid!).filter((t) => t.nice === 19)).toHaveLength(2);
    expect((await child.stop('SIGTERM', 15_000)).code).toBe(0);
  });

  it('when WORKER_THREAD=false, then the jobs run on the HTTP thread and the order still completes, with no thread at a lower priority', async () => {
    const child = await spawnService({ DATABASE_URL: db.url, JWT_SECRET, RATE_LIMIT_ORDERS_PER_MINUTE: '0', WORKER_THREAD: 'false' });
    await child.waitForReady(30_000);

    await orderCompletes(child, db, `NOTHREAD-${Date.now()}`);
    expect(niceByThread(child.process.pid!).filter((t) => t.nice !== 0)).toEqual([]);
    expect((await child.stop('SIGTERM', 15_000)).code).toBe(0);
  });

  it('when WORKER_THREAD_NICE is outside 0–19, then the configuration is refused naming it', () => {
    expect(() => loadConfig({ WORKER_THREAD_NICE: '20' })).toThrow('WORKER_THREAD_NICE must be an integer from 0 to 19, got "20"');
    expect(loadConfig({}).queue).toMatchObject({ thread: true, threadNice: 19, jobs: 'all', eventsThread: false });
    expect(() => loadConfig({ WORKER_JOBS: 'webhooks' })).toThrow('WORKER_JOBS must be one of all, orders, events, got "webhooks"');
  });
});
