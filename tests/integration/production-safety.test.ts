import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { passwordFileOf } from '../../src/db/embedded';
import { TokenService } from '../../src/modules/auth';
import { buildPaymentProviderMock } from '../../src/mocks/payment-provider';
import { startWarehouseMock } from '../../src/mocks/warehouse';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { killAllChildren, makeTempDir, removeDir, ROOT, runToExit, spawnService } from '../helpers/child-service';
import { adminQuery } from '../helpers/pg';
import { freeTestPort } from '../helpers/ports';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db';
import { startTestApp, type TestApp } from '../helpers/test-app';

const SECRET = 'production-test-secret-that-is-long-enough-000';

/** Linux routes all of 127.0.0.0/8 to loopback: a server bound to 127.0.0.1 alone is not reachable at 127.0.0.2, one on 0.0.0.0 is. */
function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env: { ...process.env, DB_HOST: '', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/** The `count` column of the first row `sql` returns. */
async function count(url: string, sql: string): Promise<number> {
  const [row] = (await adminQuery(url, sql)) as Array<{ count: unknown }>;
  return Number(row.count);
}

describe('production refuses unsafe set-ups (NODE_ENV=production, each start-up a child process)', () => {
  let db: TestDatabase;
  let dataParent: string;
  let provider: RunningServer;
  let warehouse: RunningServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataParent = makeTempDir('orderloop-prod-');
    provider = await listen(buildPaymentProviderMock({ failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: 0, hangMs: 1_000 }).app, 0);
    warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0);
  });

  afterAll(async () => {
    await killAllChildren();
    await provider.close();
    await warehouse.close();
    await db.drop();
    removeDir(dataParent);
  });

  const production = (env: Record<string, string | undefined>) => ({ NODE_ENV: 'production', JWT_SECRET: SECRET, DATA_DIR: path.join(dataParent, 'data'), ...env });

  it.each([
    ['JWT_SECRET', { JWT_SECRET: undefined, DATABASE_URL: 'postgres://x@127.0.0.1:1/x' }],
    ['DATABASE_URL', {}],
    ['PAYMENT_PROVIDER_URL', { DATABASE_URL: 'postgres://x@127.0.0.1:1/x', WAREHOUSE_URL: 'http://127.0.0.1:1' }],
    ['WAREHOUSE_URL', { DATABASE_URL: 'postgres://x@127.0.0.1:1/x', PAYMENT_PROVIDER_URL: 'http://127.0.0.1:1' }],
    ['PAYMENT_PROVIDER_URL', { ROLE: 'worker', DATABASE_URL: 'postgres://x@127.0.0.1:1/x' }],
  ])('when %s is missing, then start-up exits 1 with one line naming it, and no embedded database or mock starts', async (variable, env) => {
    const mockPort = await freeTestPort();
    const result = await runToExit(production({ ...env, PAYMENT_MOCK_PORT: String(mockPort) }));
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Configuration error: ${variable} must be set when NODE_ENV=production`));
    expect(fs.existsSync(path.join(dataParent, 'data', 'postgres'))).toBe(false);
  });

  it('when everything is set for ROLE=all, then it answers on every interface and starts no mock, no embedded database and no /admin/mocks routes', async () => {
    const paymentMockPort = await freeTestPort();
    const warehouseMockPort = await freeTestPort();
    const child = await spawnService(production({
      DATABASE_URL: db.url,
      PAYMENT_PROVIDER_URL: provider.url,
      WAREHOUSE_URL: warehouse.url,
      PAYMENT_MOCK_PORT: String(paymentMockPort),
      WAREHOUSE_MOCK_PORT: String(warehouseMockPort),
    }));
    await child.waitForReady(60_000);

    expect(await canConnect('127.0.0.2', child.port)).toBe(true);
    expect(await canConnect('127.0.0.1', paymentMockPort)).toBe(false);
    expect(await canConnect('127.0.0.1', warehouseMockPort)).toBe(false);
    expect(fs.existsSync(path.join(dataParent, 'data', 'postgres'))).toBe(false);
    expect(child.stdout()).not.toContain('Embedded PostgreSQL');

    const token = await new TokenService(SECRET, 60).issue({ clientId: 'ops', role: 'admin', customerId: null });
    for (const route of ['/admin/mocks/payments/config', '/admin/mocks/warehouse/stock/ANY-SKU']) {
      const res = await fetch(`${child.url}${route}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(404);
    }
    const overview = await fetch(`${child.url}/admin/overview`, { headers: { Authorization: `Bearer ${token}` } });
    expect(overview.status).toBe(200);
    expect((await child.stop()).code).toBe(0);
  });

  it('when HOST names an address in production, then the service listens there only', async () => {
    const child = await spawnService(production({ DATABASE_URL: db.url, ROLE: 'api', HOST: '127.0.0.1' }));
    await child.waitForReady(60_000);
    expect(await canConnect('127.0.0.1', child.port)).toBe(true);
    expect(await canConnect('127.0.0.2', child.port)).toBe(false);
    expect((await child.stop()).code).toBe(0);
  });

  it('when a mock is started on its own with NODE_ENV=production, then it refuses with one line and exit code 1', async () => {
    for (const which of ['payments', 'warehouse']) {
      const { code, output } = await run(process.execPath, [path.join(ROOT, 'dist', 'src', 'mocks', 'run.js'), which], { NODE_ENV: 'production', JWT_SECRET: SECRET, DATABASE_URL: db.url, PAYMENT_MOCK_PORT: '0', WAREHOUSE_MOCK_PORT: '0' });
      expect(code).toBe(1);
      expect(output.trim()).toMatch(/^Refusing to start the mock .* with NODE_ENV=production/);
    }
  });
});

describe('development listens on loopback unless told otherwise', () => {
  afterAll(() => killAllChildren());

  it('when started with no HOST, then the API, both mocks and the embedded database answer on 127.0.0.1 and not on another address', async () => {
    const paymentMockPort = await freeTestPort();
    const warehouseMockPort = await freeTestPort();
    const child = await spawnService({ NODE_ENV: 'development', PAYMENT_MOCK_PORT: String(paymentMockPort), WAREHOUSE_MOCK_PORT: String(warehouseMockPort) });
    await child.waitForReady(60_000);
    const databasePort = Number(new URL(fs.readFileSync(path.join(child.dataDir, 'database.url'), 'utf8').trim()).port);
    for (const port of [child.port, paymentMockPort, warehouseMockPort, databasePort]) {
      expect(await canConnect('127.0.0.1', port)).toBe(true);
      expect(await canConnect('127.0.0.2', port)).toBe(false);
    }
    expect((await child.stop()).code).toBe(0);
  });

  it('when HOST=0.0.0.0 in development, then the API answers on every interface', async () => {
    const child = await spawnService({ NODE_ENV: 'development', HOST: '0.0.0.0' });
    await child.waitForReady(60_000);
    expect(await canConnect('127.0.0.2', child.port)).toBe(true);
    expect((await child.stop()).code).toBe(0);
  });
});

describe('the demo clients are apart from the demo catalog', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  const cli = path.join(ROOT, 'node_modules', '.bin', 'sequelize-cli');
  const clients = () => count(db.url, 'SELECT count(*) FROM "Api_Clients"');

  it('when db:seed:all runs (README\'s own-PostgreSQL path), then the catalog is there and no API client exists', async () => {
    const { code, output } = await run(cli, ['db:seed:all'], { DATABASE_URL: db.url, NODE_ENV: 'development' });
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(await count(db.url, 'SELECT count(*) FROM "Products"')).toBeGreaterThan(0);
    expect(await clients()).toBe(0);
  });

  it('when the demo clients\' seeder runs with NODE_ENV=production, then it refuses with a clear message and creates none; in development it creates them', async () => {
    const refused = await run('npm', ['run', '--silent', 'db:seed:demo-clients'], { DATABASE_URL: db.url, NODE_ENV: 'production' });
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('Refusing to create the demo API clients with NODE_ENV=production');
    expect(await clients()).toBe(0);

    const seeded = await run('npm', ['run', '--silent', 'db:seed:demo-clients'], { DATABASE_URL: db.url, NODE_ENV: 'development' });
    expect({ code: seeded.code, output: seeded.output }).toMatchObject({ code: 0 });
    expect(await clients()).toBe(3);
  });
});

describe('embedded PostgreSQL credentials', () => {
  afterAll(() => killAllChildren());

  const passwordOf = (dataDir: string) => fs.readFileSync(passwordFileOf(path.join(dataDir, 'postgres')), 'utf8').trim();
  const urlOf = (dataDir: string) => fs.readFileSync(path.join(dataDir, 'database.url'), 'utf8').trim();
  const withPassword = (url: string, password: string) => {
    const changed = new URL(url);
    changed.password = password;
    return changed.toString();
  };

  it('when two services initialise their data directories, then each gets its own random password kept next to it with mode 600, and the old fixed password is refused; a directory made with the old password gets a random one on its next start', async () => {
    const passwords: string[] = [];
    let first: { dataDir: string; url: string } | undefined;
    for (let i = 0; i < 2; i += 1) {
      const child = await spawnService({ NODE_ENV: 'development' });
      await child.waitForReady(60_000);
      const file = passwordFileOf(path.join(child.dataDir, 'postgres'));
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.join(child.dataDir, 'database.url')).mode & 0o777).toBe(0o600);
      const password = passwordOf(child.dataDir);
      expect(password.length).toBeGreaterThanOrEqual(24);
      const url = urlOf(child.dataDir);
      expect(decodeURIComponent(new URL(url).password)).toBe(password);
      expect(child.stdout()).toContain(`psql "${url}"`);
      await expect(count(url, 'SELECT 1 AS count')).resolves.toBe(1);
      await expect(count(withPassword(url, 'orderloop'), 'SELECT 1 AS count')).rejects.toThrow(/password authentication failed/);
      passwords.push(password);
      if (i === 0) {
        // Made "before": the superuser gets the old fixed password back and the file goes.
        await adminQuery(url, "ALTER ROLE postgres PASSWORD 'orderloop'");
        first = { dataDir: child.dataDir, url };
        // Not child.stop(): that removes the data directory, which the restart below needs.
        child.process.kill('SIGTERM');
        await child.exited();
      } else {
        expect((await child.stop()).code).toBe(0);
      }
    }
    expect(passwords[0]).not.toBe(passwords[1]);

    fs.rmSync(passwordFileOf(path.join(first!.dataDir, 'postgres')));
    const again = await spawnService({ NODE_ENV: 'development', DATA_DIR: first!.dataDir });
    await again.waitForReady(60_000);
    const rotated = passwordOf(first!.dataDir);
    expect(rotated).not.toBe('orderloop');
    const url = urlOf(first!.dataDir);
    await expect(count(url, 'SELECT 1 AS count')).resolves.toBe(1);
    await expect(count(withPassword(url, 'orderloop'), 'SELECT 1 AS count')).rejects.toThrow(/password authentication failed/);
    expect((await again.stop()).code).toBe(0);
    removeDir(path.dirname(first!.dataDir));
  });
});

describe('security headers fit the deployment', () => {
  let plain: TestApp;
  let proxied: TestApp;
  let tls: TestApp;
  beforeAll(async () => {
    plain = await startTestApp();
    proxied = await startTestApp({ env: { TRUST_PROXY: 'loopback' } });
    tls = await startTestApp({ env: { SERVED_OVER_HTTPS: 'true' } });
  });
  afterAll(async () => {
    await plain.stop();
    await proxied.stop();
    await tls.stop();
  });

  const csp = (res: { headers: Record<string, string> }) => res.headers['content-security-policy'] ?? '';

  it('when the dashboard is served over plain HTTP, then there is no HSTS and no upgrade-insecure-requests (a browser on another host keeps using http)', async () => {
    const res = await plain.anonymous.get('/dashboard').set('X-Forwarded-Proto', 'https');
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(csp(res)).toContain("default-src 'self'");
    expect(csp(res)).not.toContain('upgrade-insecure-requests');
  });

  it('when a trusted proxy says the request came over https, then HSTS and upgrade-insecure-requests are sent; without that header they are not', async () => {
    const secure = await proxied.anonymous.get('/dashboard').set('X-Forwarded-Proto', 'https');
    expect(secure.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(csp(secure)).toContain('upgrade-insecure-requests');
    const insecure = await proxied.anonymous.get('/dashboard');
    expect(insecure.headers['strict-transport-security']).toBeUndefined();
    expect(csp(insecure)).not.toContain('upgrade-insecure-requests');
  });

  it('when SERVED_OVER_HTTPS=true, then every response carries HSTS', async () => {
    const res = await tls.anonymous.get('/health');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });
});
