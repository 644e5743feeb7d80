import { QUEUES } from '../../src/queue/queues';
import { createLogger } from '../../src/shared/logger';
import { killAllChildren, spawnService } from '../helpers/child-service';
import { createProduct, eventually, startTestApp, type TestApp } from '../helpers/test-app';

type Line = Record<string, unknown> & { msg?: string; level: number };

/**
 * The service's own logger (createLogger, as in production) writing into memory at debug level,
 * so the test reads back every line an order's flow produced.
 */
describe('correlated logs of one order', () => {
  let t: TestApp;
  const lines: Line[] = [];

  beforeAll(async () => {
    const sink = { write: (line: string) => void lines.push(JSON.parse(line) as Line) };
    // Retries 2 s apart: time enough to bring the provider back between the first and second attempt.
    t = await startTestApp({ workers: true, logger: createLogger('debug', {}, sink), env: { PAYMENT_RETRY_DELAY_S: '2' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when an order goes from the HTTP request through a failed and a retried payment job to completed, then every line about it carries orderId, and job lines their jobId', async () => {
    const product = await createProduct({ stock: 3, lowStockThreshold: 2 });
    const requestId = `req-logs-${Date.now()}`;
    // The provider is down for the first attempt, so the charge job fails once and pg-boss retries it.
    t.payments.settings.down = true;

    const created = await t.http.post('/orders/create').set('X-Request-Id', requestId).send({ customerId: 'cust_logs', items: [{ sku: product.sku, quantity: 1 }] });
    expect(created.status).toBe(202);
    const orderId: string = created.body.order.id;
    await eventually(async () => ((await t.http.get(`/orders/${orderId}`)).body.order?.payments ?? []).length > 0);
    t.payments.settings.down = false;
    await eventually(async () => (await t.http.get(`/orders/${orderId}`)).body.order?.status === 'completed');
    const refused = await t.http.post(`/orders/${orderId}/cancel`).set('X-Request-Id', `${requestId}-cancel`);
    expect(refused.status).toBe(409);

    const jobIds = new Set(
      (await Promise.all(Object.values(QUEUES).map((queue) => t.ctx.queue.inspect.jobsWithData(queue, 'orderId', orderId)))).flat().map((job) => job.id),
    );
    expect(jobIds.size).toBe(2); // order-reserve and order-charge (its retry is the same job)

    // A line is about this order when it names it anywhere, came from its HTTP requests, or from one of its jobs.
    const about = lines.filter(
      (l) => JSON.stringify(l).includes(orderId) || (typeof l.requestId === 'string' && l.requestId.startsWith(requestId)) || jobIds.has(String(l.jobId)),
    );
    const missingOrderId = about.filter((l) => l.orderId !== orderId).map((l) => l.msg);
    expect(missingOrderId).toEqual([]);

    const fromJobs = about.filter((l) => l.step !== undefined || String(l.msg).startsWith('job failed'));
    expect(fromJobs.filter((l) => !jobIds.has(String(l.jobId))).map((l) => l.msg)).toEqual([]);
    // The job lines also carry the request that created the order.
    expect(fromJobs.filter((l) => l.requestId !== requestId).map((l) => l.msg)).toEqual([]);

    const messages = about.map((l) => l.msg);
    expect(messages).toEqual(
      expect.arrayContaining([
        'order accepted',
        'request completed',
        'low stock',
        'stock reserved',
        'payment attempt failed, will retry',
        'payment succeeded, order completed',
        'The order is completed and can no longer be cancelled',
      ]),
    );
    expect(messages.some((m) => String(m).startsWith('job failed'))).toBe(true);

    // pino-http's completion line of POST /orders/create: the request id and the order it created.
    const createLine = about.find((l) => l.msg === 'request completed' && (l.req as { url?: string })?.url === '/orders/create');
    expect(createLine).toMatchObject({ requestId, orderId, res: { statusCode: 202 } });
    const refusedLine = about.find((l) => l.msg === 'request completed' && (l.req as { url?: string })?.url === `/orders/${orderId}/cancel`);
    expect(refusedLine).toMatchObject({ requestId: `${requestId}-cancel`, orderId, res: { statusCode: 409 } });
    // Both job attempts of the charge are there, each with the charge job's id.
    const attempts = about.filter((l) => l.step === 'charge' && typeof l.attempt === 'number');
    const numbers = [...new Set(attempts.map((l) => Number(l.attempt)))].sort((a, b) => a - b);
    expect(numbers.length).toBeGreaterThanOrEqual(2);
    expect(numbers).toEqual(numbers.map((_n, i) => i + 1));
    expect(new Set(attempts.map((l) => l.jobId)).size).toBe(1);
  });

  it('when a request names no order, then its lines carry the requestId and no orderId', async () => {
    const requestId = `req-plain-${Date.now()}`;
    expect((await t.http.get('/products').set('X-Request-Id', requestId)).status).toBe(200);
    const line = lines.find((l) => l.requestId === requestId && l.msg === 'request completed');
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty('orderId');
  });
});

describe('logs for people', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ workers: false });
  });
  afterAll(async () => {
    await killAllChildren();
    await t.stop();
  });

  it('when a developer asks for pretty logs (as a terminal in development gets by default), then the lines are readable text, not JSON', async () => {
    const child = await spawnService({ DATABASE_URL: t.db.url, ROLE: 'api', LOG_PRETTY: 'true', NODE_ENV: 'development' });
    await eventually(async () => {
      if (child.hasExited()) throw new Error(`child exited\n${child.output()}`);
      return child.stdout().includes('orderloop listening');
    }, 30_000);
    const lines = child.stdout().split('\n').filter(Boolean);
    expect(lines.find((l) => l.includes('orderloop listening'))).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*: orderloop listening on http/);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
  }, 45_000);
});
