import http from 'node:http';
import { Client } from 'pg';
import { eventually, httpGet, killAllChildren, logLines, portIsOpen, sleep, spawnService, type ChildService } from '../helpers/child-service';
import { adminQuery } from '../helpers/pg';
import { adminUrl, createTestDatabase, type TestDatabase } from '../helpers/test-db';

/** Connections the service still holds on `db`. */
async function serviceConnections(db: TestDatabase): Promise<number> {
  const [row] = (await adminQuery(
    adminUrl(),
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'orderloop%'`,
    [db.name],
  )) as Array<{ n: number }>;
  return row.n;
}

describe('foundation: graceful shutdown of a real process', () => {
  let db: TestDatabase;
  let child: ChildService | undefined;

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await killAllChildren();
    await db.drop();
  });

  it('when SIGTERM arrives after some requests, then the process exits 0 within 10 s, closes its port and leaves no connections behind', async () => {
    child = await spawnService({ DATABASE_URL: db.url });
    await child.waitForReady(30_000);
    const answers = await Promise.all([...Array(10)].map((_, i) => httpGet(`${child!.url}/${i % 2 ? 'health' : 'ready'}`)));
    expect(answers.map((a) => a.status)).toEqual([...Array(10)].map(() => 200));
    expect(await serviceConnections(db)).toBeGreaterThan(0);

    const exit = await child.stop('SIGTERM', 10_000);
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(10_000);
    expect(await portIsOpen(child.port)).toBe(false);
    const messages = logLines(child.stdout()).map((line) => line.msg);
    expect(messages).toEqual(expect.arrayContaining(['shutting down', 'stopped cleanly']));
    expect(logLines(child.stdout()).filter((line) => Number(line.level) >= 50)).toEqual([]);
    await eventually(async () => (await serviceConnections(db)) === 0, 5_000);
  });

  it('when SIGTERM arrives during a request, then the listener closes at once but that request still gets its answer', async () => {
    child = await spawnService({ DATABASE_URL: db.url });
    await child.waitForReady(30_000);

    // Hold pg-boss's job table so /ready's queue check waits on the lock: a request in flight.
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE pgboss.job IN ACCESS EXCLUSIVE MODE');
      const inFlight = httpGet(`${child.url}/ready`, 8_000);
      await sleep(300);
      const stopping = child.stop('SIGTERM', 10_000);
      // New connections are refused while the old request is still being served.
      await eventually(async () => !(await portIsOpen(child!.port)), 3_000, 50);
      expect(child.hasExited()).toBe(false);
      await sleep(200);
      await locker.query('ROLLBACK');

      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ status: 'ready' });
      const exit = await stopping;
      expect(exit.code).toBe(0);
      expect(exit.ms).toBeLessThan(10_000);
    } finally {
      await locker.end().catch(() => undefined);
    }
  });

  it('when a client holds an idle keep-alive connection, then SIGTERM does not wait for it', async () => {
    child = await spawnService({ DATABASE_URL: db.url });
    await child.waitForReady(30_000);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http.get(`${child!.url}/health`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
      expect(status).toBe(200);
      expect(Object.keys(agent.freeSockets)).toHaveLength(1);

      const exit = await child.stop('SIGTERM', 10_000);
      expect(exit.code).toBe(0);
      expect(exit.ms).toBeLessThan(3_000);
    } finally {
      agent.destroy();
    }
  });

  it('when a shutdown step hangs on a database lock, then the process still exits within 10 s, with code 1 naming the step', async () => {
    child = await spawnService({ DATABASE_URL: db.url });
    await child.waitForReady(30_000);
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      // pg-boss cannot fetch, or fail its jobs in flight, while this lock is held.
      await locker.query('LOCK TABLE pgboss.job IN ACCESS EXCLUSIVE MODE');
      await sleep(1_000);
      const exit = await child.stop('SIGTERM', 12_000);
      expect(exit.ms).toBeLessThan(10_000);
      expect(exit.code).toBe(1);
      const stuck = logLines(child.stdout()).filter((line) => typeof line.step === 'string');
      expect(stuck.length).toBeGreaterThan(0);
      expect(await portIsOpen(child.port)).toBe(false);
    } finally {
      await locker.end().catch(() => undefined);
    }
  });

  it('when SIGINT arrives (Ctrl-C), then the process also exits 0', async () => {
    child = await spawnService({ DATABASE_URL: db.url, ROLE: 'api' });
    await child.waitForReady(30_000);
    const exit = await child.stop('SIGINT', 10_000);
    expect(exit.code).toBe(0);
    expect(await portIsOpen(child.port)).toBe(false);
  });

  it('when SIGHUP arrives (the terminal was closed), then the process shuts down cleanly and exits 0', async () => {
    child = await spawnService({ DATABASE_URL: db.url, ROLE: 'api' });
    await child.waitForReady(30_000);
    const exit = await child.stop('SIGHUP', 10_000);
    expect(exit.code).toBe(0);
    expect(logLines(child.stdout()).map((line) => line.msg)).toContain('stopped cleanly');
  });

  it('when a worker-role process gets SIGTERM, then it exits 0 within 10 s', async () => {
    const api = await spawnService({ DATABASE_URL: db.url, ROLE: 'api' });
    await api.waitForReady(30_000);
    // A worker has no HTTP port: it is up once its start-up line is logged.
    const worker = await spawnService({
      DATABASE_URL: db.url,
      ROLE: 'worker',
      PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9/',
      WAREHOUSE_URL: 'http://127.0.0.1:9/',
    });
    await eventually(async () => {
      if (worker.hasExited()) throw new Error(`worker exited\n${worker.output()}`);
      return logLines(worker.stdout()).some((line) => line.msg === 'orderloop worker started');
    }, 30_000);
    const exits = await Promise.all([worker.stop('SIGTERM', 10_000), api.stop('SIGTERM', 10_000)]);
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
    expect(Math.max(...exits.map((e) => e.ms))).toBeLessThan(10_000);
  });
});
