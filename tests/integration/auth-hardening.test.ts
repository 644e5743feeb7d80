import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '../../src/modules/auth';
import { killAllChildren, runToExit, spawnService, type ChildService } from '../helpers/child-service';
import { startTestApp, TEST_ENV, type TestApp } from '../helpers/test-app';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

/** A sign-in as a client at `ip` (TRUST_PROXY=loopback: the test's X-Forwarded-For is believed). */
function signIn(t: TestApp, ip: string, clientId: string, secret: string) {
  return t.anonymous.post('/auth/token').set('X-Forwarded-For', ip).send({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
}

describe('token endpoint: limits per address and per client_id', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { TRUST_PROXY: 'loopback', RATE_LIMIT_TOKEN_PER_IP_PER_MINUTE: '5', RATE_LIMIT_TOKEN_FAILURES_PER_CLIENT_PER_MINUTE: '3' },
    });
    await createClient({ clientId: 'shop', role: 'customer', customerId: 'cust_shop', secret: 'secret-shop-0123456789' });
    await createClient({ clientId: 'busy', role: 'customer', customerId: 'cust_busy', secret: 'secret-busy-0123456789' });
    await createClient({ clientId: 'target', role: 'customer', customerId: 'cust_target', secret: 'secret-target-0123456789' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when one address floods POST /auth/token, then it gets 429 with Retry-After before its body is read, and another address signs in fine', async () => {
    const flood = '198.51.100.7';
    const first = [];
    for (let i = 0; i < 5; i += 1) first.push((await signIn(t, flood, `nobody-${i}`, 'wrong')).status);
    expect(first).toEqual([401, 401, 401, 401, 401]);

    const [limited, rightSecret, badBody] = await Promise.all([
      signIn(t, flood, 'nobody', 'wrong'),
      // The right secret changes nothing: no lookup, no hash.
      signIn(t, flood, 'shop', 'secret-shop-0123456789'),
      // Nor does a body the schema would refuse: the limit comes before the body is read.
      t.anonymous.post('/auth/token').set('X-Forwarded-For', flood).send({ nonsense: true }),
    ]);
    for (const res of [limited, rightSecret, badBody]) {
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('RATE_LIMITED');
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }

    const other = await signIn(t, '198.51.100.8', 'shop', 'secret-shop-0123456789');
    expect(other.status).toBe(200);
    expect(other.body.access_token).toEqual(expect.any(String));
  });

  it('when a client_id collects too many wrong secrets, then even its right secret gets 429 for the rest of the minute; other clients are untouched', async () => {
    // A new address per attempt, so only the per-client_id limit can apply.
    const wrong = [];
    for (let i = 0; i < 3; i += 1) wrong.push((await signIn(t, `192.0.2.${10 + i}`, 'target', 'wrong')).status);
    expect(wrong).toEqual([401, 401, 401]);
    const locked = await signIn(t, '192.0.2.20', 'target', 'secret-target-0123456789');
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('RATE_LIMITED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await signIn(t, '192.0.2.21', 'shop', 'secret-shop-0123456789')).status).toBe(200);
  });

  it('when a client signs in successfully many times, then its sign-ins never use up its failure budget', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await signIn(t, `192.0.2.${100 + i}`, 'busy', 'secret-busy-0123456789')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    // Two failures still fit the budget of 3: the successes above were not counted.
    expect((await signIn(t, '192.0.2.110', 'busy', 'wrong')).status).toBe(401);
    expect((await signIn(t, '192.0.2.111', 'busy', 'wrong')).status).toBe(401);
    expect((await signIn(t, '192.0.2.112', 'busy', 'secret-busy-0123456789')).status).toBe(200);
  });

  it('when a body is larger than 4 kB, then 413 PAYLOAD_TOO_LARGE, JSON or form', async () => {
    const big = 'x'.repeat(5 * 1024);
    const json = await t.anonymous.post('/auth/token').set('X-Forwarded-For', '192.0.2.200').send({ client_id: 'shop', client_secret: big });
    expect(json.status).toBe(413);
    expect(json.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const form = await t.anonymous.post('/auth/token').set('X-Forwarded-For', '192.0.2.201').type('form').send({ client_id: 'shop', client_secret: big });
    expect(form.status).toBe(413);
    expect(form.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('token endpoint: secret verifications at once', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        TRUST_PROXY: 'loopback',
        TOKEN_MAX_CONCURRENT_VERIFICATIONS: '1',
        RATE_LIMIT_TOKEN_PER_IP_PER_MINUTE: '3',
        RATE_LIMIT_TOKEN_FAILURES_PER_CLIENT_PER_MINUTE: '0',
      },
    });
    await createClient({ clientId: 'shop', role: 'customer', customerId: 'cust_shop', secret: 'secret-shop-0123456789' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when more sign-ins arrive at once than the cap, then the extra ones get 503 SERVICE_UNAVAILABLE with Retry-After, and the others go through', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => signIn(t, `203.0.113.${i + 1}`, 'shop', 'secret-shop-0123456789')));
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    const refused = results.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const res of refused) {
      expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
      expect(res.headers['retry-after']).toBe('1');
    }
  });

  it('when an address over its limit sends many sign-ins at once, then all get 429 and none reaches the verification cap (no 503)', async () => {
    const flood = '203.0.113.200';
    for (let i = 0; i < 3; i += 1) expect((await signIn(t, flood, 'shop', 'wrong')).status).toBe(401);
    const burst = await Promise.all(Array.from({ length: 20 }, () => signIn(t, flood, 'shop', 'secret-shop-0123456789')));
    expect(burst.map((r) => r.status)).toEqual(Array(20).fill(429));
  });
});

describe('revocation: clients:disable, clients:list, clients:enable', () => {
  let t: TestApp;
  let services: ChildService[] = [];
  const cli = (script: string, args: string[]) =>
    run(process.execPath, [path.join(ROOT, 'dist/src/cli', script), ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: t.db.url } });

  beforeAll(async () => {
    t = await startTestApp();
    await createClient({ clientId: 'rev-shop', role: 'customer', customerId: 'cust_rev', secret: 'secret-rev-0123456789' });
    // Two API processes, as two replicas behind a load balancer.
    services = await Promise.all(
      [0, 1].map(() =>
        spawnService({
          ROLE: 'api',
          DATABASE_URL: t.db.url,
          JWT_SECRET: TEST_ENV.JWT_SECRET,
          MIGRATE_ON_START: 'false',
          CLIENT_STATUS_REFRESH_S: '1',
          LOG_LEVEL: 'warn',
        }),
      ),
    );
    await Promise.all(services.map((s) => s.waitForReady()));
  });
  afterAll(async () => {
    await killAllChildren();
    await t.stop();
  });

  const ordersWith = (service: ChildService, token: string) => fetch(`${service.url}/orders`, { headers: { Authorization: `Bearer ${token}` } });

  /** Milliseconds until every service answers `status` to the token (polled every 100 ms, at most 30 s). */
  async function untilAll(token: string, status: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      const answers = await Promise.all(services.map((s) => ordersWith(s, token)));
      if (answers.every((r) => r.status === status)) return Date.now() - started;
      if (Date.now() - started > 30_000) throw new Error(`still ${answers.map((r) => r.status).join(', ')} after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('when a client is disabled, then both API processes refuse its existing token within the refresh interval, and it cannot sign in; enabled again, the token works', async () => {
    const signedIn = await fetch(`${services[0].url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'rev-shop', client_secret: 'secret-rev-0123456789' }),
    });
    expect(signedIn.status).toBe(200);
    const { access_token: token } = (await signedIn.json()) as { access_token: string };
    for (const s of services) expect((await ordersWith(s, token)).status).toBe(200);

    const disabled = await cli('clients-disable.js', ['--id', 'rev-shop']);
    expect(disabled.stdout).toMatch(/Disabled client rev-shop/);
    // CLIENT_STATUS_REFRESH_S=1: a second, plus a poll and a query (the issue promises 30 s at most).
    expect(await untilAll(token, 401)).toBeLessThan(5_000);
    for (const s of services) {
      const res = await ordersWith(s, token);
      const body = (await res.json()) as { error: { code: string; details: { reason: string } } };
      expect(body.error).toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'client_disabled' } });
    }
    const again = await fetch(`${services[1].url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'rev-shop', client_secret: 'secret-rev-0123456789' }),
    });
    expect(again.status).toBe(401);

    const listed = await cli('clients-list.js', []);
    const [header, ...lines] = listed.stdout.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['id', 'role', 'customer', 'created', 'disabled', 'name']);
    const row = lines.find((l) => l.startsWith('rev-shop '))!.split(/\s+/);
    expect(row.slice(0, 3)).toEqual(['rev-shop', 'customer', 'cust_rev']);
    expect(new Date(row[4]).getTime()).toBeGreaterThan(new Date(row[3]).getTime());
    expect((await cli('clients-disable.js', ['--id', 'rev-shop'])).stdout).toMatch(/already disabled/);

    const enabled = await cli('clients-disable.js', ['--id', 'rev-shop', '--enable']);
    expect(enabled.stdout).toMatch(/Enabled client rev-shop/);
    expect(await untilAll(token, 200)).toBeLessThan(5_000);
    const relisted = await cli('clients-list.js', []);
    expect(relisted.stdout.split('\n').find((l) => l.startsWith('rev-shop '))!.split(/\s+/)[4]).toBe('-');
  });

  it('when a token names a client that is not in "Api_Clients", then it is not refused for that', async () => {
    const token = await t.tokenFor({ clientId: 'never-registered', role: 'admin', customerId: null });
    for (const s of services) expect((await ordersWith(s, token)).status).toBe(200);
  });

  it('when clients:disable names no existing client or no --id, then it says so and exits non-zero', async () => {
    await expect(cli('clients-disable.js', ['--id', 'no-such-client'])).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/no client no-such-client/) });
    await expect(cli('clients-disable.js', [])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--id is required/) });
  });
});

describe('token lifetime', () => {
  it('when TOKEN_TTL_S is over 24 h, then the service refuses to start, naming it', async () => {
    const result = await runToExit({ TOKEN_TTL_S: '86401', JWT_SECRET: TEST_ENV.JWT_SECRET });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/TOKEN_TTL_S must be an integer from 1 to 86400 \(24 h\), got "86401"/);
  });
});
