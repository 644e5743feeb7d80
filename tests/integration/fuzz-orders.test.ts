import { newFuzzStats, runOrderFuzz, writesSnapshot } from '../../chaos/fuzz/order-requests';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { createProduct, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * Property-based fuzzing of order intake (fast-check): random and mutated bodies and headers.
 * The same property runs against the real API process in `npm run test:chaos`. No workers run
 * here, so nothing but the request under test writes to the database.
 */
describe('order intake under fuzzing', () => {
  let t: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    t = await startTestApp();
    server = await listen(t.app, 0);
  });
  afterAll(async () => {
    await server?.close();
    await t?.stop();
  });

  // Cases the fuzzer found, kept as examples: each was a 500.
  it.each([
    ['an item that is null next to one that is a string', '{"customerId":"cust_fuzz","items":[null,""]}'],
    ['a SKU that is a NUL character', '{"customerId":"cust_fuzz","items":[{"sku":"\\u0000","quantity":1}]}'],
    ['a NUL inside a SKU next to a real one', '{"customerId":"cust_fuzz","items":[{"sku":"a\\u0000b","quantity":1},{"sku":"X","quantity":1}]}'],
  ])('when an order has %s, then it is a 400 and nothing is written', async (_name, body) => {
    const snapshot = () => writesSnapshot((sql) => t.query(sql), t.ctx.queue.inspect);
    const before = await snapshot();
    const res = await t.http.post('/orders/create').set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(await snapshot()).toBe(before);
  });

  it('when thousands of random and mutated order requests arrive, then none gets a 5xx and no 4xx writes a row', async () => {
    const products = [
      await createProduct({ stock: 10_000_000 }),
      await createProduct({ stock: 10_000_000 }),
      await createProduct({ stock: 10_000_000 }),
      // 409 INSUFFICIENT_STOCK for more than 2.
      await createProduct({ stock: 2 }),
    ];
    const customerId = 'cust_fuzz';
    const tokens = {
      admin: await t.tokenFor({ clientId: 'fuzz-admin', role: 'admin', customerId: null }),
      customer: await t.tokenFor({ clientId: 'fuzz-customer', role: 'customer', customerId }),
      customerId,
    };
    const stats = newFuzzStats(process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined);
    try {
      await runOrderFuzz({
        baseUrl: server.url,
        tokens,
        skus: products.map((p) => p.sku),
        numRuns: Number(process.env.FUZZ_RUNS ?? 2_000),
        snapshot: () => writesSnapshot((sql) => t.query(sql), t.ctx.queue.inspect),
      }, stats);
    } finally {
      // Seen in the Jest output: how the runs spread over the answers (replay a run with FUZZ_SEED).
      process.stdout.write(`fuzz: ${stats.requests} requests, seed ${stats.seed}, answers ${JSON.stringify(stats.byStatus)}\n`);
    }
    // The generators reach every layer: accepted orders, validation, auth, stock, idempotency.
    expect(Object.keys(stats.byStatus)).toEqual(expect.arrayContaining(['202', '400', '401', '409', '413', '422']));
  }, 240_000);
});
