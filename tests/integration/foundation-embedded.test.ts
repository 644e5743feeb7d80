import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { eventually, httpGet, killAllChildren, logLines, portIsOpen, removeDir, ROOT, sleep, spawnService, within } from '../helpers/child-service';

/** What sequelize-cli would connect to, asked the way a user would (config/config.js in its own process). */
function cliUrl(dataDir: string): string {
  const blank = Object.fromEntries(['DATABASE_URL', 'DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASS', 'DB_DATABASE'].map((name) => [name, '']));
  return execFileSync(process.execPath, ['-e', "console.log(require('./config/config.js').development.url)"], {
    cwd: ROOT,
    env: { ...process.env, ...blank, DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  }).trim();
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function postmasterPid(pgDir: string): number | undefined {
  const file = path.join(pgDir, 'postmaster.pid');
  if (!fs.existsSync(file)) return undefined;
  return Number(fs.readFileSync(file, 'utf8').split('\n')[0]) || undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('foundation: embedded PostgreSQL when no database is configured', () => {
  // A fresh temp dir is mode 0700: the service itself must make it traversable for the postgres OS user.
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'orderloop-embedded-'));
  const dataDir = path.join(parent, 'nested', 'data');
  const pgDir = path.join(dataDir, 'postgres');
  const urlFile = path.join(dataDir, 'database.url');
  const orphans: number[] = [];

  afterAll(async () => {
    await killAllChildren();
    // A server orphaned on purpose below (or by a failed test) must not outlive the run.
    const pid = postmasterPid(pgDir);
    for (const candidate of [...orphans, ...(pid ? [pid] : [])]) {
      if (alive(candidate)) process.kill(candidate, 'SIGTERM');
    }
    for (let i = 0; i < 50 && [...orphans, ...(pid ? [pid] : [])].some(alive); i += 1) await sleep(100);
    removeDir(parent);
  });

  it('when started with no database variables, then it initialises an embedded database, is ready within 60 s, announces the URL and shares it with config/config.js; started again, it reuses that data without initdb', async () => {
    const child = await spawnService({ DATA_DIR: dataDir });
    await child.waitForReady(60_000);

    expect(fs.existsSync(path.join(pgDir, 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(urlFile)).toBe(true);
    const firstUrl = fs.readFileSync(urlFile, 'utf8').trim();
    expect(firstUrl).toMatch(/^postgres:\/\/[^@]+@127\.0\.0\.1:\d+\/orderloop$/);
    expect(child.stdout()).toContain(`psql "${firstUrl}"`);
    expect(cliUrl(dataDir)).toBe(firstUrl);
    // sequelize-cli itself, through .sequelizerc and config/config.js, sees the migrations the service applied.
    const status = execFileSync(process.execPath, [path.join(ROOT, 'node_modules', '.bin', 'sequelize-cli'), 'db:migrate:status'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '', DB_HOST: '', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    const migrationLines = status.split('\n').filter((line) => /^(up|down)\s/.test(line));
    expect(migrationLines.length).toBeGreaterThan(0);
    expect(migrationLines.filter((line) => !line.startsWith('up'))).toEqual([]);
    expect(logLines(child.stdout()).some((line) => line.msg === 'initialising embedded PostgreSQL data directory')).toBe(true);
    expect(logLines(child.stdout()).find((line) => line.source)?.source).toBe('embedded');

    await withClient(firstUrl, async (client) => {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM "SequelizeMeta"');
      expect(rows[0].n).toBeGreaterThan(0);
      await client.query('CREATE TABLE restart_marker (note text NOT NULL)');
      await client.query(`INSERT INTO restart_marker (note) VALUES ('written before the restart')`);
    });
    const pgVersionStat = fs.statSync(path.join(pgDir, 'PG_VERSION'));
    const embeddedPort = Number(new URL(firstUrl).port);

    const exit = await child.stop('SIGTERM', 10_000);
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(10_000);
    expect(fs.existsSync(urlFile)).toBe(false);
    // Stopped cleanly: no server left holding the data directory or the port.
    expect(fs.existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(false);
    expect(await portIsOpen(embeddedPort)).toBe(false);
    expect(() => cliUrl(dataDir)).toThrow(/No database configured/);

    // Started again on the same data directory.
    const again = await spawnService({ DATA_DIR: dataDir });
    await again.waitForReady(60_000);

    expect(logLines(again.stdout()).some((line) => line.msg === 'initialising embedded PostgreSQL data directory')).toBe(false);
    expect(fs.statSync(path.join(pgDir, 'PG_VERSION')).ino).toBe(pgVersionStat.ino);
    expect(fs.statSync(path.join(pgDir, 'PG_VERSION')).mtimeMs).toBe(pgVersionStat.mtimeMs);
    const url = fs.readFileSync(urlFile, 'utf8').trim();
    const notes = await withClient(url, async (client) => (await client.query<{ note: string }>('SELECT note FROM restart_marker')).rows);
    expect(notes).toEqual([{ note: 'written before the restart' }]);
    expect(logLines(again.stdout()).find((line) => Array.isArray(line.applied))?.applied).toEqual([]);

    const againExit = await again.stop('SIGINT', 10_000);
    expect(againExit.code).toBe(0);
    expect(fs.existsSync(urlFile)).toBe(false);
  }, 150_000);

  it('when postmaster.pid names a live process that is not PostgreSQL (a stale file after a reboot), then the service starts anyway', async () => {
    const impostor = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(pgDir, 'postmaster.pid'), `${impostor.pid}\n${pgDir}\n`);
      const child = await spawnService({ DATA_DIR: dataDir });
      await child.waitForReady(60_000);
      expect(postmasterPid(pgDir)).not.toBe(impostor.pid);
      expect((await child.stop()).code).toBe(0);
    } finally {
      impostor.kill('SIGKILL');
    }
  }, 90_000);

  it('when Ctrl-C reaches the whole process group (the embedded server too), then the service still exits 0 within 10 s', async () => {
    const child = await spawnService({ DATA_DIR: dataDir }, { detached: true });
    await child.waitForReady(60_000);
    const pid = postmasterPid(pgDir);
    expect(pid).toBeDefined();
    const started = Date.now();
    child.signalGroup('SIGINT');
    const result = await within(child.exited(), 12_000);
    expect(result).toBeDefined();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result!.code).toBe(0);
    expect(alive(pid!)).toBe(false);
    expect(fs.existsSync(urlFile)).toBe(false);
    await child.kill();
  }, 90_000);

  it('when the embedded server is already gone when shutdown starts, then the service does not wait for it and exits 0 within 10 s', async () => {
    const child = await spawnService({ DATA_DIR: dataDir });
    await child.waitForReady(60_000);
    const pid = postmasterPid(pgDir)!;
    process.kill(pid, 'SIGINT'); // fast shutdown, as Ctrl-C in a terminal does
    await eventually(async () => !alive(pid), 10_000, 50);
    const exit = await child.stop('SIGTERM', 12_000);
    expect(exit.ms).toBeLessThan(10_000);
    expect(exit.code).toBe(0);
    expect(fs.existsSync(urlFile)).toBe(false);
  }, 90_000);

  it.each(['uncaughtException', 'unhandledRejection'])(
    'when the service crashes with an %s, then it stops its embedded database and exits 1',
    async (kind) => {
      // Loaded into the child with --require: on SIGUSR2 it crashes the way a bug would.
      const preload = path.join(parent, 'crash-on-sigusr2.js');
      fs.writeFileSync(
        preload,
        `process.on('SIGUSR2', () => setImmediate(() => {
          if (process.env.CRASH_KIND === 'unhandledRejection') Promise.reject(new Error('injected rejection'));
          else throw new Error('injected crash');
        }));\n`,
      );
      const child = await spawnService({ DATA_DIR: dataDir, NODE_OPTIONS: `--require ${preload}`, CRASH_KIND: kind });
      await child.waitForReady(60_000);
      const pid = postmasterPid(pgDir);
      expect(pid).toBeDefined();
      child.process.kill('SIGUSR2');
      const result = await within(child.exited(), 12_000);
      expect(result?.code).toBe(1);
      expect(child.stderr()).toContain(`orderloop crashed (${kind})`);
      await sleep(200);
      expect(alive(pid!)).toBe(false);
      expect(fs.existsSync(urlFile)).toBe(false);
      await child.kill();
    },
    90_000,
  );

  it('when SIGTERM arrives during start-up, then the process finishes starting, stops everything and exits 0 without orphaning the server', async () => {
    // A fresh data directory: initdb, migrations and pg-boss's schema make start-up long enough to hit.
    const freshDir = path.join(parent, 'fresh-start');
    const child = await spawnService({ DATA_DIR: freshDir });
    await eventually(async () => {
      if (child.hasExited()) throw new Error(`exited early\n${child.output()}`);
      return logLines(child.stdout()).some((line) => String(line.msg).startsWith('database: '));
    }, 60_000, 20);
    const signalled = Date.now();
    child.process.kill('SIGTERM');
    const result = await within(child.exited(), 15_000);
    expect(result).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(fs.existsSync(path.join(freshDir, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(fs.existsSync(path.join(freshDir, 'database.url'))).toBe(false);
    await child.kill();
  }, 90_000);

  it('when start-up fails after the embedded database started, then the database is stopped again and the process exits 1 with one line', async () => {
    // ROLE=worker needs PAYMENT_PROVIDER_URL; the check comes after the database and migrations.
    const child = await spawnService({ DATA_DIR: dataDir, ROLE: 'worker' });
    const result = await within(child.exited(), 30_000);
    expect(result?.code).toBe(1);
    expect(child.stdout()).toContain('Embedded PostgreSQL is running');
    const lines = child.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('PAYMENT_PROVIDER_URL must be set for ROLE=worker');
    expect(fs.existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(false);
    expect(fs.existsSync(urlFile)).toBe(false);
    await child.kill();
  }, 90_000);

  it('when shutdown hangs on a lock in the embedded database, then the process still stops that database and exits within 10 s', async () => {
    const child = await spawnService({ DATA_DIR: dataDir });
    await child.waitForReady(60_000);
    const url = fs.readFileSync(urlFile, 'utf8').trim();
    const pid = postmasterPid(pgDir);
    expect(pid).toBeDefined();
    const locker = new Client({ connectionString: url });
    await locker.connect();
    locker.on('error', () => undefined); // the server goes away under it
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE pgboss.job IN ACCESS EXCLUSIVE MODE');
    await sleep(1_000);

    const exit = await child.stop('SIGTERM', 12_000);
    await locker.end().catch(() => undefined);
    expect(exit.ms).toBeLessThan(10_000);
    // No orphaned server to block the next start, and no stale URL file pointing at it.
    await sleep(200);
    expect(alive(pid!)).toBe(false);
    expect(fs.existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(false);
    expect(fs.existsSync(urlFile)).toBe(false);
  }, 90_000);

  it('when a second process starts on a DATA_DIR that a running service uses, then it exits 1 pointing at database.url, and it can join through that URL', async () => {
    const first = await spawnService({ DATA_DIR: dataDir });
    await first.waitForReady(60_000);

    const second = await spawnService({ DATA_DIR: dataDir, ROLE: 'api' });
    expect((await within(second.exited(), 30_000))?.code).toBe(1);
    const lines = second.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DATABASE_URL');
    expect(lines[0]).toContain(urlFile);
    // The first one is untouched.
    expect(fs.existsSync(urlFile)).toBe(true);
    expect((await httpGet(`${first.url}/ready`)).status).toBe(200);

    const joined = await spawnService({ DATABASE_URL: fs.readFileSync(urlFile, 'utf8').trim(), ROLE: 'api' });
    await joined.waitForReady(30_000);
    expect((await joined.stop()).code).toBe(0);
    expect((await first.stop()).code).toBe(0);
  }, 90_000);

  it('when a killed service left its embedded server running, then the next start exits 1 with a message saying which process holds the data', async () => {
    const first = await spawnService({ DATA_DIR: dataDir });
    await first.waitForReady(60_000);
    const pid = postmasterPid(pgDir);
    expect(pid).toBeDefined();
    orphans.push(pid!);
    first.process.kill('SIGKILL');
    await first.exited();
    expect(alive(pid!)).toBe(true);

    const second = await spawnService({ DATA_DIR: dataDir });
    const { code } = await second.exited();
    expect(code).toBe(1);
    const lines = second.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`pid ${pid}`);
    expect(lines[0]).toContain(pgDir);
    // The failed start leaves the other server alone.
    expect(alive(pid!)).toBe(true);
    await second.kill();
  }, 90_000);
});
