import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../src/mocks/otlp-receiver';
import { startWebhookReceiver } from '../../src/mocks/webhook-receiver';
import { killAllChildren, logLines, spawnService, type ChildService } from '../helpers/child-service';
import { createProduct, eventually, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * One order, one trace: an api-role and a worker-role process (children, as `npm start` runs
 * them) export their spans over OTLP to a local receiver, and the order's life (the POST, its
 * reserve, a failed and a retried charge with their provider calls, completion, its webhook)
 * reads as one tree whose spans say what happened.
 */

const JSON_EXPORT = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' };

async function startedChild(env: Record<string, string>, ready: (line: Record<string, unknown>) => boolean): Promise<ChildService> {
  const child = await spawnService({ LOG_LEVEL: 'info', WORKER_POLL_INTERVAL_S: '0.5', PAYMENT_CIRCUIT_ENABLED: 'false', ...env });
  await eventually(async () => {
    if (child.hasExited()) throw new Error(`child exited\n${child.output()}`);
    return logLines(child.stdout()).some(ready);
  }, 30_000);
  return child;
}

const listening = (line: Record<string, unknown>) => typeof line.msg === 'string' && line.msg.startsWith('orderloop listening');

/** Top-level keys of a JSON log line, repeats included (JSON.parse would keep only the last). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(line.slice(i + 1, j));
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth += 1;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') depth -= 1;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

describe('traces across processes', () => {
  let t: TestApp;
  let receiver: OtlpReceiver;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let api: ChildService;
  let worker: ChildService;
  let auth: Record<string, string>;

  beforeAll(async () => {
    // The test process holds the database, the payment provider and the receivers; it runs no workers.
    t = await startTestApp({ workers: false });
    receiver = await startOtlpReceiver();
    hooks = await startWebhookReceiver();
    const shared = { DATABASE_URL: t.db.url, JWT_SECRET: t.config.auth.jwtSecret!, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...JSON_EXPORT };
    [api, worker] = await Promise.all([
      startedChild({ ...shared, ROLE: 'api' }, listening),
      startedChild({
        ...shared,
        ROLE: 'worker',
        PAYMENT_PROVIDER_URL: t.paymentServer.url,
        WAREHOUSE_URL: 'http://127.0.0.1:9',
        PAYMENT_RETRY_DELAY_S: '1',
        PAYMENT_RETRY_BACKOFF: 'false',
      }, (line) => line.msg === 'orderloop worker started'),
    ]);
    auth = { Authorization: `Bearer ${await t.tokenFor({ clientId: 'traces-admin', role: 'admin', customerId: null })}`, 'Content-Type': 'application/json' };
  }, 60_000);
  afterAll(async () => {
    await killAllChildren();
    await receiver?.close();
    await hooks?.close();
    await t?.stop();
  });

  const call = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${api.url}${path}`, { method: init.method ?? 'GET', headers: auth, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
    return { status: res.status, body: (await res.json()) as { order?: Record<string, unknown> & { id: string; status: string; traceId: string | null } } };
  };

  it('when an order is charged on its second attempt, then its whole life is one trace across both processes, and its log lines name that trace', async () => {
    const webhook = await call('/webhooks', { method: 'POST', body: { url: hooks.hookUrl, events: ['order.completed'] } });
    expect(webhook.status).toBe(201);
    const product = await createProduct({ stock: 5 });

    // The provider is down for the first attempt only.
    t.payments.settings.down = true;
    const created = await call('/orders/create', { method: 'POST', body: { customerId: 'cust_traced', items: [{ sku: product.sku, quantity: 1 }] } });
    expect(created.status).toBe(202);
    const orderId = created.body.order!.id;
    await eventually(async () => (await t.query(`SELECT 1 FROM "Payments" WHERE order_id = $1 AND outcome = 'failed'`, [orderId])).length > 0, 20_000);
    t.payments.settings.down = false;

    const order = await eventually(async () => {
      const res = await call(`/orders/${orderId}`);
      return res.body.order?.status === 'completed' ? res.body.order : null;
    }, 30_000);
    expect(order.traceId).toMatch(/^[\da-f]{32}$/);
    const traceId = order.traceId!;

    const names = (spans: ReceivedSpan[]) => spans.map((s) => s.name);
    await eventually(async () => {
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      const n = names(spans);
      return n.includes('order.reserve') && n.filter((x) => x === 'payment.charge').length === 2 && n.includes('order.complete') && n.includes('webhook.deliver') ? spans : null;
    }, 20_000);
    // The remaining spans of the processes' last exports.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found).toHaveLength(1);
      return found[0];
    };
    const childrenOf = (span: ReceivedSpan) => spans.filter((s) => s.parentSpanId === span.spanId);

    // One root: the api process's server span of the POST; every other span hangs from a span of this trace.
    const roots = spans.filter((s) => !s.parentSpanId);
    expect(roots).toHaveLength(1);
    expect(roots[0]).toMatchObject({ kind: 2, resource: { 'service.name': 'orderloop', 'orderloop.role': 'api' } });
    expect(roots[0].name).toMatch(/^POST/);
    expect(spans.filter((s) => s.parentSpanId && !byId.has(s.parentSpanId)).map((s) => s.name)).toEqual([]);

    // Intake wrote the order within the request's trace, in the api process.
    const intake = one('order.intake');
    expect(intake.resource['orderloop.role']).toBe('api');
    expect(childrenOf(intake).some((s) => s.attributes['db.system.name'] === 'postgresql')).toBe(true);
    // Its statement's span is named after the data/ statement that sent it, not a hash.
    expect(childrenOf(intake).map((s) => s.name)).toContainEqual(expect.stringMatching(/^pg\.query:orders\.intake\b/));

    // The worker's steps: the reserve, then two charge attempts under it, the second completing the order.
    const reserve = one('order.reserve');
    expect(reserve.resource['orderloop.role']).toBe('worker');
    expect(reserve.attributes).toMatchObject({ order_id: orderId, 'job.queue': 'order-reserve', 'order.outcome': 'reserved' });
    expect(byId.get(reserve.parentSpanId)!.resource['orderloop.role']).toBe('api');

    const charges = spans.filter((s) => s.name === 'payment.charge').sort((a, b) => Number(a.attributes['payment.attempt']) - Number(b.attributes['payment.attempt']));
    expect(charges.map((c) => c.parentSpanId)).toEqual([reserve.spanId, reserve.spanId]);
    expect(charges.map((c) => c.attributes['payment.attempt'])).toEqual([1, 2]);
    expect(charges.map((c) => c.attributes['payment.outcome'])).toEqual(['failed', 'succeeded']);
    expect(charges[0].attributes).toMatchObject({ order_id: orderId, 'job.queue': 'order-charge', 'job.attempt': 1, 'payment.failure_code': expect.any(String) });
    expect(charges[1].attributes['job.attempt']).toBe(2);
    expect(charges[0].attributes['job.id']).toBe(charges[1].attributes['job.id']);
    // The failed attempt is an error on its span; each attempt's provider call is its child HTTP client span.
    expect(charges[0].status.code).toBe(2);
    expect(charges[1].status.code).not.toBe(2);
    const providerCalls = (charge: ReceivedSpan) =>
      childrenOf(charge).filter((s) => s.kind === 3 && s.attributes['http.request.method'] === 'POST' && String(s.attributes['url.full']).endsWith('/charges'));
    expect(charges.map((c) => providerCalls(c).map((s) => s.attributes['http.response.status_code']))).toEqual([[503], [201]]);
    // The statements each step made are its children too.
    expect(childrenOf(charges[0]).some((s) => s.attributes['db.system.name'] === 'postgresql')).toBe(true);

    const complete = one('order.complete');
    expect(complete.parentSpanId).toBe(charges[1].spanId);
    expect(complete.attributes).toMatchObject({ order_id: orderId, 'order.outcome': 'completed' });

    // The order.completed webhook, delivered in the order's trace with its POST as a child span.
    const delivery = one('webhook.deliver');
    expect(delivery.resource['orderloop.role']).toBe('worker');
    expect(delivery.attributes).toMatchObject({ 'job.queue': 'webhook-deliver', 'webhook.event_type': 'order.completed', 'webhook.outcome': 'delivered' });
    expect(childrenOf(delivery).some((s) => s.kind === 3)).toBe(true);
    expect(hooks.receiver.received.some((r) => r.orderId === orderId && r.type === 'order.completed')).toBe(true);

    // The worker's log lines about this order carry its trace id, each key once.
    const lines = worker.stdout().split('\n').filter((l) => l.includes(orderId) && l.startsWith('{'));
    const flow = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const msg of ['stock reserved', 'payment attempt failed, will retry', 'payment succeeded, order completed']) {
      expect(flow.find((l) => l.msg === msg)).toMatchObject({ traceId, orderId });
    }
    for (const line of [...api.stdout().split('\n'), ...worker.stdout().split('\n')].filter((l) => l.startsWith('{'))) {
      const keys = topLevelKeys(line);
      expect({ line, repeated: keys.filter((k, i) => keys.indexOf(k) !== i) }).toEqual({ line, repeated: [] });
    }
  }, 90_000);

  it('when the exporter speaks http/protobuf, then the spans reach the receiver in that encoding', async () => {
    const proto = await startedChild({
      DATABASE_URL: t.db.url,
      JWT_SECRET: t.config.auth.jwtSecret!,
      ROLE: 'api',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    }, listening);
    const product = await createProduct({ stock: 5 });
    const res = await fetch(`${proto.url}/orders/create`, {
      method: 'POST', headers: auth, body: JSON.stringify({ customerId: 'cust_proto', items: [{ sku: product.sku, quantity: 1 }] }),
    });
    expect(res.status).toBe(202);
    const { order } = (await res.json()) as { order: { id: string } };
    const shown = (await (await fetch(`${proto.url}/orders/${order.id}`, { headers: auth })).json()) as { order: { traceId: string } };
    expect(shown.order.traceId).toMatch(/^[\da-f]{32}$/);
    const before = receiver.stats.protobufRequests;
    const intake = await eventually(async () => receiver.spans.find((s) => s.traceId === shown.order.traceId && s.name === 'order.intake'), 15_000);
    expect(receiver.stats.protobufRequests).toBeGreaterThan(before);
    // Decoded from protobuf: the request's server span is the root, and the intake its descendant.
    const spans = receiver.spans.filter((s) => s.traceId === shown.order.traceId);
    const root = spans.find((s) => !s.parentSpanId)!;
    expect(root).toMatchObject({ kind: 2, attributes: { 'http.route': '/orders/create', 'http.response.status_code': 202 } });
    expect(intake.attributes).toMatchObject({ 'intake.orders': 1 });
    expect(spans.find((s) => s.spanId === intake.parentSpanId)).toBeDefined();
  }, 60_000);
});

describe('traces off', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ workers: false });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when no OTLP endpoint is configured, then orders carry no trace and GET /orders/:id says so with a null traceId', async () => {
    expect(t.config.tracing.enabled).toBe(false);
    const product = await createProduct({ stock: 5 });
    const res = await t.http.post('/orders/create').send({ customerId: 'cust_untraced', items: [{ sku: product.sku, quantity: 1 }] });
    expect(res.status).toBe(202);
    const shown = await t.http.get(`/orders/${res.body.order.id}`);
    expect(shown.body.order.traceId).toBeNull();
    expect(await t.query(`SELECT traceparent FROM "Orders" WHERE id = $1`, [res.body.order.id])).toEqual([{ traceparent: null }]);
  });
});
