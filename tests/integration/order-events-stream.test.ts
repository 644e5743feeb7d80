import { listen, type RunningServer } from '../../src/shared/http-server';
import { killAllChildren, logLines, spawnService, type ChildService } from '../helpers/child-service';
import { openSse, type SseMessage } from '../helpers/sse';
import { createProduct, eventually, startTestApp, waitForTerminal, type TestApp } from '../helpers/test-app';

/**
 * The live status stream, GET /orders/:id/events, over real HTTP: what a client holding it sees
 * while the order moves, when it reconnects with Last-Event-ID, and when the change is made by
 * another process (a worker-role child on the same database).
 */

const types = (messages: SseMessage[]) => messages.map((m) => m.event);
const sequences = (messages: SseMessage[]) => messages.map((m) => Number(m.id));

describe('order event stream', () => {
  let t: TestApp;
  let server: RunningServer;
  let admin: Record<string, string>;

  beforeAll(async () => {
    t = await startTestApp({ workers: true, env: { PAYMENT_CIRCUIT_ENABLED: 'false' } });
    server = await listen(t.app, 0);
    admin = { Authorization: `Bearer ${await t.tokenFor({ clientId: 'stream-admin', role: 'admin', customerId: null })}` };
  });
  afterAll(async () => {
    await server.close();
    await t.stop();
  });
  afterEach(() => {
    t.payments.settings.latencyMs = 0;
  });

  async function newOrder(customerId: string, quantity = 1, stock = 10) {
    const product = await createProduct({ stock });
    const res = await t.http.post('/orders').send({ customerId, items: [{ sku: product.sku, quantity }] });
    expect(res.status).toBe(202);
    return res.body.order as { id: string };
  }

  it('when a client streams an order, then it gets the order as it is, then each change as it commits, and the stream ends after the order completes', async () => {
    t.payments.settings.latencyMs = 400;
    const order = await newOrder('cust_stream_live');
    const stream = await openSse(`${server.url}/orders/${order.id}/events`, admin);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await stream.ended;

    const [snapshot, ...changes] = stream.messages;
    expect(snapshot.event).toBe('snapshot');
    const snap = snapshot.data as { order: { id: string; status: string }; sequence: number };
    expect(snap.order.id).toBe(order.id);
    // Whatever moment the snapshot caught, the changes after it follow without a gap, up to completion.
    expect(sequences(changes)).toEqual(changes.map((_, i) => snap.sequence + i + 1));
    expect(types(changes).at(-1)).toBe('order.completed');
    const completed = changes.at(-1)!.data as { id: string; type: string; sequence: number; data: { status: string; id: string } };
    expect(completed).toMatchObject({ type: 'order.completed', sequence: 3, data: { id: order.id, status: 'completed' } });
    expect(completed.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await t.http.get(`/orders/${order.id}`)).body.order.status).toBe('completed');
  });

  it('when a client reconnects with Last-Event-ID, then it gets every event after that one and nothing twice', async () => {
    const order = await newOrder('cust_stream_resume');
    await waitForTerminal(t, order.id);
    const resumed = await openSse(`${server.url}/orders/${order.id}/events`, { ...admin, 'Last-Event-ID': '1' });
    await resumed.ended;
    expect(resumed.messages.map((m) => [m.event, m.id])).toEqual([['order.reserved', '2'], ['order.completed', '3']]);

    // A finished order's stream, from the start: its state, and the end.
    const fresh = await openSse(`${server.url}/orders/${order.id}/events`, admin);
    await fresh.ended;
    expect(fresh.messages.map((m) => [m.event, m.id])).toEqual([['snapshot', '3']]);
  });

  it('when an admin holds the stream of every event, then a new order shows up in it from order.created to order.completed', async () => {
    const all = await openSse(`${server.url}/events`, admin);
    expect(all.status).toBe(200);
    const order = await newOrder('cust_stream_all');
    const seen = await all.waitFor((m) => m.some((x) => x.event === 'order.completed' && (x.data as { data: { id: string } }).data.id === order.id));
    all.close();
    const mine = seen.filter((x) => (x.data as { data: { id?: string } }).data.id === order.id);
    expect(types(mine)).toEqual(['order.created', 'order.reserved', 'order.completed']);
    expect(mine.every((m) => m.id === (m.data as { id: string }).id)).toBe(true);
  });

  it("when a customer client streams another customer's order, then 404 and no stream", async () => {
    const order = await newOrder('cust_stream_owner');
    const other = { Authorization: `Bearer ${await t.tokenFor({ clientId: 'c-stream-other', role: 'customer', customerId: 'cust_stream_other' })}` };
    const res = await fetch(`${server.url}/orders/${order.id}/events`, { headers: other });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ORDER_NOT_FOUND');
    const mine = { Authorization: `Bearer ${await t.tokenFor({ clientId: 'c-stream-owner', role: 'customer', customerId: 'cust_stream_owner' })}` };
    const stream = await openSse(`${server.url}/orders/${order.id}/events`, mine);
    expect(stream.status).toBe(200);
    await stream.ended;
    expect(types(stream.messages).at(-1)).toBe('order.completed');
  });
});

describe('order event stream of an order nobody works on', () => {
  let t: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    // No workers anywhere: an order stays pending until it is cancelled.
    t = await startTestApp({ workers: false, env: { SSE_HEARTBEAT_S: '1' } });
    server = await listen(t.app, 0);
  });
  afterAll(async () => {
    await server.close();
    await t.stop();
  });

  it('when the order waits, then heartbeats keep the stream open, and a cancel reaches it as order.cancelled and ends it', async () => {
    const product = await createProduct({ stock: 5 });
    const order = (await t.http.post('/orders').send({ customerId: 'cust_stream_wait', items: [{ sku: product.sku, quantity: 1 }] })).body.order;
    const admin = { Authorization: `Bearer ${await t.tokenFor({ clientId: 'wait-admin', role: 'admin', customerId: null })}` };
    const stream = await openSse(`${server.url}/orders/${order.id}/events`, admin);
    await stream.waitFor((m) => m.length === 1);
    expect(stream.messages[0]).toMatchObject({ event: 'snapshot', id: '1', data: { order: { id: order.id, status: 'pending' }, sequence: 1 } });
    await eventually(async () => stream.comments >= 2, 5_000);
    expect(stream.messages).toHaveLength(1);

    expect((await t.http.post(`/orders/${order.id}/cancel`).send({})).status).toBe(200);
    await stream.ended;
    expect(stream.messages.map((m) => [m.event, m.id])).toEqual([['snapshot', '1'], ['order.cancelled', '2']]);
    expect(stream.messages[1].data).toMatchObject({ type: 'order.cancelled', data: { status: 'cancelled' } });
  });
});

describe('order event stream across processes', () => {
  let t: TestApp;
  let server: RunningServer;
  let worker: ChildService;

  beforeAll(async () => {
    // This process is the API (no workers); a worker-role child on the same database does the jobs.
    t = await startTestApp({ workers: false });
    server = await listen(t.app, 0);
    worker = await spawnService({
      ROLE: 'worker',
      DATABASE_URL: t.db.url,
      PAYMENT_PROVIDER_URL: t.paymentServer.url,
      WAREHOUSE_URL: 'http://127.0.0.1:9',
      WORKER_POLL_INTERVAL_S: '0.5',
      LOG_LEVEL: 'info',
    });
    await eventually(async () => {
      if (worker.hasExited()) throw new Error(`worker exited\n${worker.output()}`);
      return logLines(worker.stdout()).some((line) => line.msg === 'orderloop worker started');
    }, 30_000);
  });
  afterAll(async () => {
    await killAllChildren();
    await server.close();
    await t.stop();
  });

  it("when a worker-role process completes an order, then the API process's stream of it shows every change and ends", async () => {
    t.payments.settings.latencyMs = 300;
    const product = await createProduct({ stock: 5 });
    const res = await t.http.post('/orders').send({ customerId: 'cust_stream_procs', items: [{ sku: product.sku, quantity: 1 }] });
    expect(res.status).toBe(202);
    const admin = { Authorization: `Bearer ${await t.tokenFor({ clientId: 'procs-admin', role: 'admin', customerId: null })}` };
    const stream = await openSse(`${server.url}/orders/${res.body.order.id}/events`, admin);
    await stream.ended;
    expect(stream.messages[0].event).toBe('snapshot');
    expect(types(stream.messages).at(-1)).toBe('order.completed');
    expect(stream.messages.slice(1).every((m, i, all) => i === 0 || Number(m.id) === Number(all[i - 1].id) + 1)).toBe(true);
  });
});
