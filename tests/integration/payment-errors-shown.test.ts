import { Writable } from 'node:stream';
import request from 'supertest';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { createLogger } from '../../src/shared/logger';
import { invariantViolations } from '../helpers/invariants';
import { freeTestPort } from '../helpers/ports';
import { startStalledServer, type StalledServer } from '../helpers/stalled-server';
import { createProduct, eventually, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * What clients see of a failed payment: a customer client reads a stable reason code and our own
 * plain message in GET /orders/:id and /orders/:id/logs, never a host, an address, a port or a
 * library's message; operators find the technical detail in the attempt's log line and in the
 * admin-only `errorDetail` of the payment view.
 */

/** Log lines the app writes, parsed. */
function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger('info', {}, stream) };
}

/** Fails naming what leaked when `text` holds anything technical about the provider. */
function expectNothingTechnical(text: string, port: number, more: string[] = []) {
  const leaks = [/127\.0\.0\.1/, /localhost/i, /ECONN[A-Z]+/, /timeout of/i, /AxiosError/i, /https?:\/\//, new RegExp(`\\b${port}\\b`), ...more.map((m) => new RegExp(m, 'i'))]
    .filter((pattern) => pattern.test(text))
    .map(String);
  expect(leaks).toEqual([]);
}

async function customerOf(t: TestApp, customerId: string) {
  const token = await t.tokenFor({ clientId: `shop-${customerId}`, role: 'customer', customerId });
  const as = (req: request.Test) => req.set('Authorization', `Bearer ${token}`);
  return {
    order: async (sku: string) => {
      const res = await as(request(t.app).post('/orders')).send({ customerId, items: [{ sku, quantity: 1 }] });
      expect(res.status).toBe(202);
      return res.body.order.id as string;
    },
    get: (orderId: string) => as(request(t.app).get(`/orders/${orderId}`)),
    logs: (orderId: string) => as(request(t.app).get(`/orders/${orderId}/logs`)),
    waitFailed: (orderId: string) => eventually(async () => {
      const res = await as(request(t.app).get(`/orders/${orderId}`));
      return res.body.order?.status === 'failed' ? res : null;
    }, 30_000),
  };
}

/** The payments an admin client reads in GET /orders/:id (t.http acts as an admin client), by attempt. */
async function adminPaymentViews(t: TestApp, orderId: string): Promise<Array<Record<string, unknown> & { attempt: number; outcome: string; errorDetail?: unknown }>> {
  const res = await t.http.get(`/orders/${orderId}`);
  expect(res.status).toBe(200);
  return [...res.body.order.payments].sort((a, b) => a.attempt - b.attempt);
}

const portOf = (url: string) => Number(new URL(url).port);

describe('payment errors: a provider that answers', () => {
  let t: TestApp;
  let sink: ReturnType<typeof logSink>;
  beforeAll(async () => {
    sink = logSink();
    t = await startTestApp({ workers: true, logger: sink.logger });
  });
  afterEach(async () => {
    await request(t.paymentServer.url).put('/config').send({ down: false, declineRate: 0, failureRate: 0 });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when the provider answers 503 to every attempt, then the customer sees PROVIDER_UNAVAILABLE and a plain message in the order and its logs, and the log line and the admin view keep the detail', async () => {
    expect((await request(t.paymentServer.url).put('/config').send({ down: true })).status).toBe(200);
    const product = await createProduct({ stock: 5 });
    const customer = await customerOf(t, 'cust_pay_503');
    const orderId = await customer.order(product.sku);

    const done = await customer.waitFailed(orderId);
    const order = done.body.order;
    expect(order.failureReason).toBe('PAYMENT_RETRIES_EXHAUSTED');
    expect(order.payments).toHaveLength(t.config.payments.maxAttempts);
    for (const p of order.payments) {
      expect(p).toEqual(expect.objectContaining({ outcome: 'failed', errorCode: 'PROVIDER_UNAVAILABLE', errorMessage: 'The payment provider is temporarily unavailable.' }));
      expect(p).not.toHaveProperty('errorDetail');
    }
    const failedRows = order.timeline.filter((e: { event: string }) => e.event === 'PAYMENT_FAILED');
    expect(failedRows).toHaveLength(t.config.payments.maxAttempts);
    for (const row of failedRows) {
      expect(row.message).toContain('PROVIDER_UNAVAILABLE (The payment provider is temporarily unavailable)');
      expect(row.details).toEqual({ errorCode: 'PROVIDER_UNAVAILABLE', durationMs: expect.any(Number) });
    }
    const port = portOf(t.paymentServer.url);
    expectNothingTechnical(done.text, port, ['Payment provider is down', 'provider_down', 'HTTP_503']);
    const logs = await customer.logs(orderId);
    expect(logs.status).toBe(200);
    expect(logs.body.logs.filter((e: { event: string }) => e.event === 'PAYMENT_FAILED')).toHaveLength(t.config.payments.maxAttempts);
    expectNothingTechnical(logs.text, port, ['Payment provider is down', 'provider_down', 'HTTP_503']);

    // What is stored: a code and our message in both tables, the provider's own text only in error_detail.
    const stored = await t.query<{ error_code: string; error_message: string; error_detail: Record<string, unknown> }>(
      'SELECT error_code, error_message, error_detail FROM "Payments" WHERE order_id = $1 ORDER BY attempt', [orderId]);
    expect(stored.map((p) => [p.error_code, p.error_message])).toEqual(stored.map(() => ['PROVIDER_UNAVAILABLE', 'The payment provider is temporarily unavailable.']));
    const logRows = await t.query<{ message: string; details: unknown }>(`SELECT message, details FROM "Order_Logs" WHERE order_id = $1 AND event = 'PAYMENT_FAILED'`, [orderId]);
    expectNothingTechnical(JSON.stringify(logRows), port, ['Payment provider is down', 'provider_down']);

    for (const view of await adminPaymentViews(t, orderId)) {
      // The last attempt's lookup may find the circuit just opened: then it says so (lookupFailed).
      const { lookupFailed, ...detail } = view.errorDetail as Record<string, unknown>;
      expect(detail).toEqual({ call: 'charge', status: 503, providerCode: 'provider_down', message: 'Payment provider is down' });
      expect([undefined, 'the payment provider circuit is open: call not made']).toContain(lookupFailed);
    }
    const lines = sink.lines.filter((l) => l.orderId === orderId && /^payment (attempt failed|failed on the last attempt)/.test(String(l.msg)));
    expect(lines).toHaveLength(t.config.payments.maxAttempts);
    for (const line of lines) expect(line).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', detail: { status: 503, providerCode: 'provider_down', message: 'Payment provider is down' } });
    expect(await invariantViolations(t)).toEqual([]);
  });

  it('when the provider declines, then the customer sees CARD_DECLINED and our message, and the admin view keeps the provider\'s code', async () => {
    await request(t.paymentServer.url).put('/config').send({ declineRate: 1 });
    const product = await createProduct({ stock: 5 });
    const customer = await customerOf(t, 'cust_pay_declined');
    const orderId = await customer.order(product.sku);

    const order = (await customer.waitFailed(orderId)).body.order;
    expect(order.failureReason).toBe('PAYMENT_DECLINED');
    expect(order.payments).toEqual([expect.objectContaining({ outcome: 'declined', errorCode: 'CARD_DECLINED', errorMessage: 'The card was declined.' })]);
    expect(order.timeline.find((e: { event: string }) => e.event === 'PAYMENT_DECLINED')).toMatchObject({
      message: 'Payment declined on attempt 1: CARD_DECLINED (The card was declined)',
      details: { errorCode: 'CARD_DECLINED', durationMs: expect.any(Number) },
    });
    expect(await adminPaymentViews(t, orderId)).toEqual([expect.objectContaining({ errorDetail: expect.objectContaining({ status: 402, providerCode: 'card_declined' }) })]);
  });

  it('when rows written before reason codes hold the library\'s text, then the customer sees a code and a plain message derived from the stored code, and the admin view the old text', async () => {
    const product = await createProduct({ stock: 5 });
    const customer = await customerOf(t, 'cust_pay_legacy');
    const orderId = await customer.order(product.sku);
    await eventually(async () => (await customer.get(orderId)).body.order?.status === 'completed');
    // As the service wrote them before: the axios message in "Payments" and in the log row.
    const technical = 'payment provider unreachable: connect ECONNREFUSED 127.0.0.1:4001';
    await t.query(
      `INSERT INTO "Payments" (order_id, attempt, outcome, error_code, error_message, amount_cents, currency, duration_ms)
       VALUES ($1, 7, 'failed', 'ECONNREFUSED', $2, 1250, 'EUR', 3), ($1, 8, 'failed', 'HTTP_503', 'Temporary failure, try again', 1250, 'EUR', 4),
              ($1, 9, 'failed', 'TIMEOUT', 'payment provider unreachable: timeout of 1000ms exceeded', 1250, 'EUR', 1000)`,
      [orderId, technical],
    );
    await t.query(
      `INSERT INTO "Order_Logs" (order_id, event, attempt, message, details)
       VALUES ($1, 'PAYMENT_FAILED', 7, $2, $3::jsonb)`,
      [orderId, `Payment attempt 7 of 3 failed: ECONNREFUSED (${technical}); will retry (attempt 8 of 3 next)`, JSON.stringify({ errorCode: 'ECONNREFUSED', error: technical, durationMs: 3 })],
    );

    const res = await customer.get(orderId);
    const failed = res.body.order.payments.filter((p: { outcome: string }) => p.outcome === 'failed');
    expect(failed.map((p: { errorCode: string; errorMessage: string }) => [p.errorCode, p.errorMessage])).toEqual([
      ['PROVIDER_UNREACHABLE', 'The payment provider could not be reached.'],
      ['PROVIDER_UNAVAILABLE', 'The payment provider is temporarily unavailable.'],
      ['PROVIDER_TIMEOUT', 'The payment provider did not answer in time.'],
    ]);
    expect(res.body.order.timeline.find((e: { attempt: number }) => e.attempt === 7)).toMatchObject({
      event: 'PAYMENT_FAILED',
      message: 'Payment attempt 7 failed: PROVIDER_UNREACHABLE (The payment provider could not be reached)',
      details: { errorCode: 'PROVIDER_UNREACHABLE', durationMs: 3 },
    });
    expectNothingTechnical(res.text, 4001, ['Temporary failure']);
    expectNothingTechnical((await customer.logs(orderId)).text, 4001, ['Temporary failure']);

    const admin = (await adminPaymentViews(t, orderId)).filter((p) => p.outcome === 'failed');
    expect(admin[0]).toMatchObject({ errorCode: 'PROVIDER_UNREACHABLE', errorDetail: { storedCode: 'ECONNREFUSED', message: technical } });
  });
});

describe('payment errors: a provider that never answers', () => {
  let t: TestApp;
  let stalled: StalledServer;
  let sink: ReturnType<typeof logSink>;
  beforeAll(async () => {
    stalled = await startStalledServer();
    sink = logSink();
    t = await startTestApp({ workers: true, logger: sink.logger, paymentProviderUrl: stalled.url, env: { PAYMENT_TIMEOUT_MS: '500', PAYMENT_MAX_ATTEMPTS: '2' } });
  });
  afterAll(async () => {
    await t.stop();
    await stalled.close();
  });

  it('when every attempt times out, then the customer sees PROVIDER_TIMEOUT and a plain message, never the library\'s "timeout of" text, and the admin view keeps it', async () => {
    const product = await createProduct({ stock: 5 });
    const customer = await customerOf(t, 'cust_pay_timeout');
    const orderId = await customer.order(product.sku);

    const done = await customer.waitFailed(orderId);
    expect(done.body.order.payments.map((p: { errorCode: string; errorMessage: string }) => [p.errorCode, p.errorMessage])).toEqual([
      ['PROVIDER_TIMEOUT', 'The payment provider did not answer in time.'],
      ['PROVIDER_TIMEOUT', 'The payment provider did not answer in time.'],
    ]);
    const port = portOf(stalled.url);
    expectNothingTechnical(done.text, port);
    expectNothingTechnical((await customer.logs(orderId)).text, port);

    for (const view of await adminPaymentViews(t, orderId)) {
      expect(view.errorDetail).toMatchObject({ call: 'charge', clientCode: 'ECONNABORTED', message: expect.stringContaining('timeout of 500ms') });
    }
    const line = sink.lines.find((l) => l.orderId === orderId && l.msg === 'payment failed on the last attempt, order failed');
    expect(line).toMatchObject({ code: 'PROVIDER_TIMEOUT', detail: { clientCode: 'ECONNABORTED' } });
  });
});

describe('payment errors: a provider whose port is closed, configured with credentials in its URL', () => {
  let t: TestApp;
  let port: number;
  let sink: ReturnType<typeof logSink>;
  beforeAll(async () => {
    port = await freeTestPort();
    sink = logSink();
    t = await startTestApp({
      workers: true,
      logger: sink.logger,
      paymentProviderUrl: `http://orderloop:pay-s3cret@127.0.0.1:${port}`,
      env: { PAYMENT_TIMEOUT_MS: '500', PAYMENT_MAX_ATTEMPTS: '2' },
    });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when the connection is refused, then the customer sees PROVIDER_UNREACHABLE and a plain message, the admin view ECONNREFUSED, and nothing holds the credentials', async () => {
    const product = await createProduct({ stock: 5 });
    const customer = await customerOf(t, 'cust_pay_refused');
    const orderId = await customer.order(product.sku);

    const done = await customer.waitFailed(orderId);
    expect(done.body.order.payments.map((p: { errorCode: string; errorMessage: string }) => [p.errorCode, p.errorMessage])).toEqual([
      ['PROVIDER_UNREACHABLE', 'The payment provider could not be reached.'],
      ['PROVIDER_UNREACHABLE', 'The payment provider could not be reached.'],
    ]);
    expectNothingTechnical(done.text, port, ['pay-s3cret']);
    expectNothingTechnical((await customer.logs(orderId)).text, port, ['pay-s3cret']);

    const admin = await adminPaymentViews(t, orderId);
    for (const view of admin) expect(view.errorDetail).toMatchObject({ call: 'charge', clientCode: 'ECONNREFUSED' });
    const everything = JSON.stringify([
      admin,
      (await t.http.get(`/orders/${orderId}`)).body,
      (await t.http.get('/admin/overview')).body,
      await t.query('SELECT * FROM "Payments" WHERE order_id = $1', [orderId]),
      await t.query('SELECT * FROM "Order_Logs" WHERE order_id = $1', [orderId]),
      sink.lines.filter((l) => l.orderId === orderId),
    ]);
    expect(everything).toContain('ECONNREFUSED');
    expect(everything).not.toContain('pay-s3cret');
  });
});

describe('payment errors: a provider that answers with a redirect', () => {
  let t: TestApp;
  let redirecting: RunningServer;
  let elsewhere: RunningServer;
  const sentElsewhere: string[] = [];
  beforeAll(async () => {
    elsewhere = await listen((req, res) => {
      sentElsewhere.push(`${req.method} ${req.url}`);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"ch_elsewhere","status":"succeeded"}');
    }, 0);
    redirecting = await listen((req, res) => {
      req.resume();
      res.writeHead(307, { location: `${elsewhere.url}${req.url}` }).end();
    }, 0);
    t = await startTestApp({ workers: true, paymentProviderUrl: redirecting.url, env: { PAYMENT_MAX_ATTEMPTS: '2' } });
  });
  afterAll(async () => {
    await t.stop();
    await redirecting.close();
    await elsewhere.close();
  });

  it('when the provider answers a charge with 307, then the charge is never sent where it points, and the order fails with PROVIDER_ERROR', async () => {
    const product = await createProduct({ stock: 5 });
    const customer = await customerOf(t, 'cust_pay_redirect');
    const orderId = await customer.order(product.sku);

    const done = await customer.waitFailed(orderId);
    expect(done.body.order.payments.map((p: { errorCode: string }) => p.errorCode)).toEqual(['PROVIDER_ERROR', 'PROVIDER_ERROR']);
    expect(sentElsewhere).toEqual([]);
    expect(await invariantViolations(t)).toEqual([]);
  });
});
