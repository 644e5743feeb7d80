import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config';
import { ApiClient, createClient, developmentJwtSecret, TokenService } from '../../src/modules/auth';
import { createProduct, startTestApp, TEST_ENV, type TestApp } from '../helpers/test-app';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

describe('authentication and scopes', () => {
  let t: TestApp;
  let sku: string;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await startTestApp();
    await createClient({ clientId: 'shop-a', role: 'customer', customerId: 'cust_a', secret: 'secret-a-0123456789' });
    await createClient({ clientId: 'ops', role: 'admin', secret: 'secret-ops-0123456789' });
    sku = (await createProduct({ stock: 50 })).sku;
  });
  afterAll(async () => {
    await t.stop();
  });

  async function tokenOf(clientId: string, secret: string): Promise<string> {
    const res = await t.anonymous.post('/auth/token').send({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
    expect(res.status).toBe(200);
    return res.body.access_token;
  }

  it('when a client sends its credentials, then it gets a Bearer token that works', async () => {
    const res = await t.anonymous.post('/auth/token').type('form').send({ grant_type: 'client_credentials', client_id: 'shop-a', client_secret: 'secret-a-0123456789' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: t.config.auth.tokenTtlSeconds });
    expect(res.headers['cache-control']).toBe('no-store');
    const orders = await t.anonymous.get('/orders').set(bearer(res.body.access_token));
    expect(orders.status).toBe(200);
  });

  it('when the secret is wrong or the client unknown, then both get the same 401', async () => {
    const wrong = await t.anonymous.post('/auth/token').send({ client_id: 'shop-a', client_secret: 'nope' });
    const unknown = await t.anonymous.post('/auth/token').send({ client_id: 'no-such-client', client_secret: 'nope' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const strip = (body: { error: Record<string, unknown> }) => ({ ...body.error, requestId: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
    expect(wrong.body.error.code).toBe('UNAUTHORIZED');
  });

  it('when the client id holds a NUL character, then 400 VALIDATION_FAILED as for any text the database cannot store', async () => {
    const res = await t.anonymous.post('/auth/token').send({ client_id: 'shop-a\u0000', client_secret: 'secret-a-0123456789' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '(request)' }] });
  });

  it('when a token is missing, malformed or expired, then 401; /health and /ready need none', async () => {
    expect((await t.anonymous.get('/orders')).status).toBe(401);
    expect((await t.anonymous.get('/products')).status).toBe(401);
    const garbage = await t.anonymous.get('/orders').set(bearer('not.a.jwt'));
    expect(garbage.status).toBe(401);
    expect(garbage.headers['www-authenticate']).toMatch(/^Bearer/);
    const shortLived = new TokenService(t.config.auth.jwtSecret!, 1);
    const token = await shortLived.issue({ clientId: 'shop-a', role: 'customer', customerId: 'cust_a' });
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await t.anonymous.get('/orders').set(bearer(token));
    expect(expired.status).toBe(401);
    expect(expired.body.error.details.reason).toBe('expired');
    const forged = await new TokenService('another-secret-that-is-also-long-enough', 60).issue({ clientId: 'ops', role: 'admin', customerId: null });
    expect((await t.anonymous.get('/orders').set(bearer(forged))).status).toBe(401);
    expect((await t.anonymous.get('/health')).status).toBe(200);
    expect((await t.anonymous.get('/ready')).status).toBe(200);
  });

  it('when a customer client orders for another customer, then 403; for itself, then 202', async () => {
    const token = await tokenOf('shop-a', 'secret-a-0123456789');
    const other = await t.anonymous.post('/orders').set(bearer(token)).send({ customerId: 'cust_b', items: [{ sku, quantity: 1 }] });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('FORBIDDEN');
    const own = await t.anonymous.post('/orders').set(bearer(token)).send({ customerId: 'cust_a', items: [{ sku, quantity: 1 }] });
    expect(own.status).toBe(202);
  });

  it('when a customer reads, lists or cancels someone else\'s order, then it is not found (404, never 403)', async () => {
    const theirs = await t.http.post('/orders').send({ customerId: 'cust_b', items: [{ sku, quantity: 1 }] });
    await t.http.post('/orders').send({ customerId: 'cust_a', items: [{ sku, quantity: 1 }] }).expect(202);
    const token = await tokenOf('shop-a', 'secret-a-0123456789');
    const id = theirs.body.order.id;
    for (const res of [
      await t.anonymous.get(`/orders/${id}`).set(bearer(token)),
      await t.anonymous.get(`/orders/${id}/logs`).set(bearer(token)),
      await t.anonymous.post(`/orders/${id}/cancel`).set(bearer(token)),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('ORDER_NOT_FOUND');
    }
    // Its owner (here an admin) still sees it untouched.
    expect((await t.http.get(`/orders/${id}`).expect(200)).body.order.status).toBe('pending');
    const listOther = await t.anonymous.get('/orders').query({ customerId: 'cust_b' }).set(bearer(token));
    expect(listOther.status).toBe(403);
    const listOwn = await t.anonymous.get('/orders').set(bearer(token));
    expect(listOwn.status).toBe(200);
    expect(listOwn.body.orders.length).toBeGreaterThan(0);
    expect(listOwn.body.orders.every((o: { customerId: string }) => o.customerId === 'cust_a')).toBe(true);
  });

  it('when a customer calls admin endpoints, then 403; an admin gets through', async () => {
    const customer = await tokenOf('shop-a', 'secret-a-0123456789');
    const admin = await tokenOf('ops', 'secret-ops-0123456789');
    expect((await t.anonymous.get('/inventory/syncs').set(bearer(customer))).status).toBe(403);
    expect((await t.anonymous.post('/inventory/sync').set(bearer(customer))).status).toBe(403);
    expect((await t.anonymous.post('/categories').set(bearer(customer)).send({ name: 'Nope' })).status).toBe(403);
    expect((await t.anonymous.put(`/products/${sku}/categories`).set(bearer(customer)).send({ categories: [] })).status).toBe(403);
    expect((await t.anonymous.get('/products').set(bearer(customer))).status).toBe(200);
    expect((await t.anonymous.get('/inventory/syncs').set(bearer(admin))).status).toBe(200);
  });

  it('when the service answers, then security headers are set and x-powered-by is not', async () => {
    const res = await t.anonymous.get('/health');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBeDefined();
  });

  it('when clients:create runs, then it prints a secret once that works, and stores only its hash', async () => {
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'dist/src/cli/clients-create.js'), '--role', 'customer', '--customer', 'cust_cli', '--id', 'cli-shop'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: t.db.url },
    });
    const secret = /client_secret: (\S+)/.exec(stdout)?.[1];
    expect(secret).toBeDefined();
    const stored = (await ApiClient.findOne({ where: { clientId: 'cli-shop' } }))!;
    expect(stored.customerId).toBe('cust_cli');
    expect(stored.secretHash).not.toContain(secret!);
    expect(stored.secretHash).toMatch(/^scrypt\$/);
    await tokenOf('cli-shop', secret!);
  });
});

describe('rate limit on order creation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_ORDERS_PER_MINUTE: '3' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when a client exceeds its orders per minute, then 429 RATE_LIMITED with Retry-After, and nothing is written', async () => {
    const { sku } = await createProduct({ stock: 50 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await t.http.post('/orders/create').send({ customerId: 'cust_rl', items: [{ sku, quantity: 1 }] })).status);
    expect(statuses).toEqual([202, 202, 202]);
    const limited = await t.http.post('/orders/create').send({ customerId: 'cust_rl', items: [{ sku, quantity: 1 }] });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const written = await t.http.get('/orders').query({ customerId: 'cust_rl' }).expect(200);
    expect(written.body.orders).toHaveLength(3);
    // Another client has its own budget.
    const other = await t.tokenFor({ clientId: 'other-shop', role: 'customer', customerId: 'cust_rl2' });
    const ok = await t.anonymous.post('/orders/create').set('Authorization', `Bearer ${other}`).send({ customerId: 'cust_rl2', items: [{ sku, quantity: 1 }] });
    expect(ok.status).toBe(202);
  });
});

describe('JWT secret configuration', () => {
  it('when NODE_ENV=production and JWT_SECRET is missing or short, then start-up stops with a clear message', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET must be set/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(/JWT_SECRET must be at least 32 characters/);
    // The other settings production requires (a database; ROLE=api runs no workers, so no provider URLs).
    expect(loadConfig({ ...TEST_ENV, NODE_ENV: 'production', ROLE: 'api', DATABASE_URL: 'postgres://db.internal/orderloop' }).auth.jwtSecret).toBe(TEST_ENV.JWT_SECRET);
  });

  it('when running in development without JWT_SECRET, then one is generated once and kept under DATA_DIR', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderloop-jwt-'));
    const first = developmentJwtSecret(dir);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(developmentJwtSecret(dir)).toBe(first);
    expect((fs.statSync(path.join(dir, 'jwt-secret')).mode & 0o777).toString(8)).toBe('600');
  });
});
