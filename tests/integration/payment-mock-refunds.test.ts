import { buildPaymentProviderMock, type PaymentMockCalls } from '../../src/mocks/payment-provider';
import { listen, type RunningServer } from '../../src/shared/http-server';

interface ListedRefund {
  id: string;
  orderId: string;
  amountCents: number;
  idempotencyKey: string;
  status: string;
}

/** Whatever the mock answered; each test reads the fields its route has. */
interface MockAnswer extends ListedRefund {
  createdAt: string;
  error: { code: string; message: string };
  items: ListedRefund[];
  count: number;
  calls: PaymentMockCalls;
}

/**
 * The mock payment provider's refunds, over real HTTP: the same fault model as its charges (down,
 * random 503s and hangs before the key is looked at, a lost response after the refund is made),
 * idempotency keys, and the provider's refusals. GET /load counts every call per route.
 */
describe('payment provider mock: refunds', () => {
  let mock: ReturnType<typeof buildPaymentProviderMock>;
  let server: RunningServer;
  let keys = 0;
  const newKey = (prefix = 'refund') => `${prefix}-${process.pid}-${(keys += 1)}`;

  beforeAll(async () => {
    mock = buildPaymentProviderMock({ failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: 0, hangMs: 300 });
    server = await listen(mock.app, 0);
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    Object.assign(mock.settings, { failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: 0, hangMs: 300, down: false });
  });

  async function call(method: 'GET' | 'POST', path: string, body?: unknown, key?: string) {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(key ? { 'Idempotency-Key': key } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as MockAnswer };
  }

  /** A charge made through POST /charges (declined when `declined`). */
  async function charge(amountCents: number, declined = false): Promise<{ id: string; orderId: string }> {
    mock.settings.declineRate = declined ? 1 : 0;
    const orderId = `order-${newKey('o')}`;
    const res = await call('POST', '/charges', { orderId, amountCents, currency: 'EUR' }, newKey('charge'));
    mock.settings.declineRate = 0;
    expect(res.status).toBe(declined ? 402 : 201);
    return { id: res.body.id, orderId };
  }

  const refundsOf = (chargeId: string) => [...mock.refunds.values()].filter((r) => r.chargeId === chargeId);

  it('when a succeeded charge is refunded in full, then 201 answers the refund and GET /refunds?orderId= lists it', async () => {
    const ch = await charge(1500);
    const key = newKey();
    const res = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 1500, orderId: ch.orderId }, key);
    expect(res.status).toBe(201);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    expect(res.body).toEqual({
      id: expect.stringMatching(/^re_[0-9a-f]{24}$/),
      chargeId: ch.id,
      orderId: ch.orderId,
      amountCents: 1500,
      currency: 'EUR',
      idempotencyKey: key,
      status: 'succeeded',
      createdAt: expect.any(String),
    });
    expect(Number.isNaN(Date.parse(res.body.createdAt))).toBe(false);

    const listed = await call('GET', `/refunds?orderId=${encodeURIComponent(ch.orderId)}`);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ items: [res.body], count: 1 });
  });

  it('when the request names no orderId or another one, then the refund carries the charge\'s order', async () => {
    const ch = await charge(800);
    const plain = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 300 }, newKey());
    const other = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 200, orderId: 'someone-else' }, newKey());
    expect([plain.status, other.status]).toEqual([201, 201]);
    expect([plain.body.orderId, other.body.orderId]).toEqual([ch.orderId, ch.orderId]);
  });

  it('when an Idempotency-Key is replayed, then the first refund is answered with Idempotent-Replayed and nothing more is refunded', async () => {
    const ch = await charge(1000);
    const key = newKey();
    const first = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 1000 }, key);
    const again = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 1000 }, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(refundsOf(ch.id)).toHaveLength(1);
  });

  it('when the charge is unknown, then 404 charge_not_found and no refund', async () => {
    const before = mock.refunds.size;
    const res = await call('POST', '/refunds', { chargeId: 'ch_000000000000000000000000', amountCents: 100 }, newKey());
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'charge_not_found', message: expect.any(String) });
    expect(mock.refunds.size).toBe(before);
  });

  it('when the charge was declined, then 409 charge_not_refundable and no refund', async () => {
    const ch = await charge(900, true);
    const res = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 900 }, newKey());
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('charge_not_refundable');
    expect(refundsOf(ch.id)).toHaveLength(0);
  });

  it.each([
    ['zero', 0],
    ['negative', -100],
    ['a fraction', 12.5],
    ['a string', '100'],
    ['missing', undefined],
  ])('when amountCents is %s, then 400 and no refund', async (_name, amountCents) => {
    const ch = await charge(1000);
    const res = await call('POST', '/refunds', { chargeId: ch.id, amountCents }, newKey());
    expect(res.status).toBe(400);
    expect(res.body.error.code).toEqual(expect.any(String));
    expect(refundsOf(ch.id)).toHaveLength(0);
  });

  it('when the Idempotency-Key or the chargeId is missing, then 400 and no refund', async () => {
    const ch = await charge(1000);
    const noKey = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 1000 });
    const noCharge = await call('POST', '/refunds', { amountCents: 1000 }, newKey());
    expect([noKey.status, noCharge.status]).toEqual([400, 400]);
    expect(refundsOf(ch.id)).toHaveLength(0);
  });

  it('when refunds of a charge would add up to more than its amount, then 409 amount_exceeds_charge, and what is left can still be refunded', async () => {
    const ch = await charge(1000);
    expect((await call('POST', '/refunds', { chargeId: ch.id, amountCents: 600 }, newKey())).status).toBe(201);
    const over = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 500 }, newKey());
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('amount_exceeds_charge');
    expect((await call('POST', '/refunds', { chargeId: ch.id, amountCents: 400 }, newKey())).status).toBe(201);
    expect((await call('POST', '/refunds', { chargeId: ch.id, amountCents: 1 }, newKey())).body.error.code).toBe('amount_exceeds_charge');
    expect(refundsOf(ch.id).reduce((s, r) => s + r.amountCents, 0)).toBe(1000);
  });

  it('when the provider is down, then a refund gets 503 provider_down and nothing is refunded, even for a replayed key', async () => {
    const ch = await charge(700);
    const key = newKey();
    const first = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 700 }, key);
    mock.settings.down = true;
    const down = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 700 }, newKey());
    const replay = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 700 }, key);
    expect(first.status).toBe(201);
    expect([down.status, replay.status]).toEqual([503, 503]);
    expect(down.body.error.code).toBe('provider_down');
    expect(refundsOf(ch.id)).toHaveLength(1);
  });

  it('when every call fails at random, then each refund gets 503 or a 504 after hangMs, before its key is looked at', async () => {
    const ch = await charge(500);
    const key = newKey();
    expect((await call('POST', '/refunds', { chargeId: ch.id, amountCents: 200 }, key)).status).toBe(201);
    Object.assign(mock.settings, { failureRate: 1, hangMs: 200 });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      const started = Date.now();
      // Every other call replays the key of a refund that exists: the fault strikes first all the same.
      const res = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 100 }, i % 2 ? key : newKey());
      statuses.push(res.status);
      if (res.status === 504) expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    }
    expect(statuses.every((s) => s === 503 || s === 504)).toBe(true);
    expect(refundsOf(ch.id)).toHaveLength(1);
  });

  it('when the response is lost, then the refund exists though 503 was answered, and replaying its key returns it', async () => {
    const ch = await charge(1200);
    const key = newKey();
    mock.settings.lostResponseRate = 1;
    const lost = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 1200, orderId: ch.orderId }, key);
    expect(lost.status).toBe(503);
    expect(refundsOf(ch.id)).toHaveLength(1);

    const listed = await call('GET', `/refunds?orderId=${encodeURIComponent(ch.orderId)}`);
    expect(listed.body.items).toEqual([expect.objectContaining({ idempotencyKey: key, status: 'succeeded', amountCents: 1200 })]);

    mock.settings.lostResponseRate = 0;
    const replay = await call('POST', '/refunds', { chargeId: ch.id, amountCents: 1200, orderId: ch.orderId }, key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(listed.body.items[0].id);
    expect(refundsOf(ch.id)).toHaveLength(1);
  });

  it('when GET /refunds names no order, then every refund is listed', async () => {
    const a = await charge(100);
    const b = await charge(200);
    await call('POST', '/refunds', { chargeId: a.id, amountCents: 100 }, newKey());
    await call('POST', '/refunds', { chargeId: b.id, amountCents: 200 }, newKey());
    const all = await call('GET', '/refunds');
    expect(all.status).toBe(200);
    expect(all.body.count).toBe(mock.refunds.size);
    expect(all.body.items).toHaveLength(mock.refunds.size);
    expect(all.body.items.map((r) => r.orderId)).toEqual(expect.arrayContaining([a.orderId, b.orderId]));
    expect((await call('GET', '/refunds?orderId=nobody')).body).toEqual({ items: [], count: 0 });
  });

  it('when calls arrive, then GET /load counts every one per route, including those answered 503 while down, failed at random or refused', async () => {
    const before = (await call('GET', '/load')).body.calls;
    const ch = await charge(1000); // 1 charge
    await call('GET', `/charges?orderId=${ch.orderId}`); // 1 charge lookup
    await call('POST', '/refunds', { chargeId: ch.id, amountCents: 100 }, newKey()); // refund 1: 201
    await call('POST', '/refunds', { chargeId: 'ch_unknown', amountCents: 100 }, newKey()); // refund 2: 404
    await call('POST', '/refunds', { chargeId: ch.id, amountCents: -1 }, newKey()); // refund 3: 400
    mock.settings.down = true;
    await call('POST', '/charges', { orderId: 'o-down', amountCents: 10, currency: 'EUR' }, newKey('charge')); // 503
    await call('POST', '/refunds', { chargeId: ch.id, amountCents: 100 }, newKey()); // refund 4: 503
    mock.settings.down = false;
    mock.settings.failureRate = 1;
    await call('POST', '/refunds', { chargeId: ch.id, amountCents: 100 }, newKey()); // refund 5: 503 or 504
    mock.settings.failureRate = 0;
    await call('GET', '/refunds'); // 1 refund lookup
    await call('GET', `/refunds?orderId=${ch.orderId}`); // 2 refund lookups
    const after = await call('GET', '/load');
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ inFlight: 0, peakInFlight: expect.any(Number), calls: expect.any(Object) });
    expect({
      charges: after.body.calls.charges - before.charges,
      chargeLookups: after.body.calls.chargeLookups - before.chargeLookups,
      refunds: after.body.calls.refunds - before.refunds,
      refundLookups: after.body.calls.refundLookups - before.refundLookups,
    }).toEqual({ charges: 2, chargeLookups: 1, refunds: 5, refundLookups: 2 });
  });

  it('when a charge is made and replayed, then charges behave as before: one charge, the replay flagged', async () => {
    const key = newKey('charge');
    const body = { orderId: `order-${key}`, amountCents: 4200, currency: 'EUR' };
    const first = await call('POST', '/charges', body, key);
    const again = await call('POST', '/charges', body, key);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ id: expect.stringMatching(/^ch_[0-9a-f]{24}$/), status: 'succeeded' });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect([...mock.charges.values()].filter((c) => c.orderId === body.orderId)).toHaveLength(1);
  });
});
