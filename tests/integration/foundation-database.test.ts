import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { configuredDatabaseUrl } from '../../src/db/database';
import { freeTestPort } from '../helpers/ports';
import { MIGRATIONS_DIR } from '../../src/shared/paths';
import { ROOT, killAllChildren, logLines, runToExit, makeTempDir, removeDir, spawnService, type ChildService } from '../helpers/child-service';
import { adminQuery } from '../helpers/pg';
import { adminUrl, createEmptyDatabase, type TestDatabase } from '../helpers/test-db';

const MIGRATION_FILES = fs.readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.js')).sort();

async function appliedMigrations(db: TestDatabase): Promise<string[]> {
  const rows = (await adminQuery(db.url, 'SELECT name FROM "SequelizeMeta" ORDER BY name')) as Array<{ name: string }>;
  return rows.map((row) => row.name);
}

/** Connections the service holds on `db` (its pool and pg-boss both name themselves). */
async function serviceConnections(db: TestDatabase): Promise<number> {
  const [row] = (await adminQuery(
    adminUrl(),
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'orderloop%'`,
    [db.name],
  )) as Array<{ n: number }>;
  return row.n;
}

/** What sequelize-cli would get from config/config.js with these variables (run in its own process, as the CLI does). */
function cliConfig(env: Record<string, string>): Record<string, unknown> {
  const blank = Object.fromEntries(['DATABASE_URL', 'DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASS', 'DB_DATABASE', 'DB_DIALECT'].map((name) => [name, '']));
  try {
    const out = execFileSync(process.execPath, ['-e', "console.log(JSON.stringify(require('./config/config.js').development))"], {
      cwd: ROOT,
      env: { ...process.env, ...blank, DATA_DIR: path.join(ROOT, 'no-such-data-dir'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    return JSON.parse(out) as Record<string, unknown>;
  } catch (error) {
    throw new Error(String((error as { stderr?: string }).stderr ?? error), { cause: error });
  }
}

function expectNoEmbeddedDatabase(child: ChildService): void {
  expect(fs.existsSync(path.join(child.dataDir, 'postgres'))).toBe(false);
  expect(fs.existsSync(path.join(child.dataDir, 'database.url'))).toBe(false);
  expect(child.stdout()).not.toContain('Embedded PostgreSQL is running');
}

describe('foundation: choosing the database', () => {
  describe('configuredDatabaseUrl', () => {
    it('when DATABASE_URL is set, then it wins over DB_* and is used as it is', () => {
      const db = loadConfig({ DATABASE_URL: 'postgres://app:secret@db.example:6543/shop', DB_HOST: 'other', DB_DATABASE: 'x' }).db;
      expect(configuredDatabaseUrl(db)).toEqual({ url: 'postgres://app:secret@db.example:6543/shop', source: 'DATABASE_URL' });
    });

    it('when only DB_* are set, then the URL is built from them with password and names escaped', () => {
      const db = loadConfig({ DB_HOST: 'db.internal', DB_PORT: '6432', DB_USER: 'order user', DB_PASS: 'p@ss:w/rd', DB_DATABASE: 'shop' }).db;
      const configured = configuredDatabaseUrl(db);
      expect(configured).toEqual({ url: 'postgres://order%20user:p%40ss%3Aw%2Frd@db.internal:6432/shop', source: 'DB_HOST' });
      const parsed = new URL(configured!.url);
      expect(decodeURIComponent(parsed.password)).toBe('p@ss:w/rd');
      expect(decodeURIComponent(parsed.username)).toBe('order user');
    });

    it('when only DB_HOST is set, then user postgres, port 5432 and database orderloop are the defaults', () => {
      const db = loadConfig({ DB_HOST: 'localhost' }).db;
      expect(configuredDatabaseUrl(db)).toEqual({ url: 'postgres://postgres@localhost:5432/orderloop', source: 'DB_HOST' });
    });

    it('when no database variable is set (or they are empty), then there is no configured URL and the embedded one is used', () => {
      expect(configuredDatabaseUrl(loadConfig({}).db)).toBeNull();
      expect(configuredDatabaseUrl(loadConfig({ DATABASE_URL: '', DB_HOST: '' }).db)).toBeNull();
    });

    it('when config/config.js sees the same variables, then it resolves the same database as the service', () => {
      expect(cliConfig({ DATABASE_URL: 'postgres://a@h:1/d', DB_HOST: 'ignored' }).url).toBe('postgres://a@h:1/d');
      expect(cliConfig({ DB_HOST: 'h', DB_PORT: '6432', DB_USER: 'u', DB_PASS: 'p', DB_DATABASE: 'd' })).toMatchObject({
        host: 'h',
        port: 6432,
        username: 'u',
        password: 'p',
        database: 'd',
        dialect: 'postgres',
      });
      expect(cliConfig({ DB_HOST: 'h' })).toMatchObject({ host: 'h', port: 5432, username: 'postgres', database: 'orderloop' });
      expect(() => cliConfig({ DATABASE_URL: 'postgres://a@h:1/d', DB_DIALECT: 'mysql' })).toThrow(/DB_DIALECT must be "postgres"/);
    });
  });

  describe('a real service process', () => {
    const databases: TestDatabase[] = [];
    const dirs: string[] = [];

    afterEach(async () => {
      await killAllChildren();
    });
    afterAll(async () => {
      await killAllChildren();
      for (const db of databases) await db.drop().catch(() => undefined);
      for (const dir of dirs) removeDir(dir);
    });

    async function emptyDatabase(): Promise<TestDatabase> {
      const db = await createEmptyDatabase();
      databases.push(db);
      return db;
    }

    function dataDir(): string {
      const dir = makeTempDir('orderloop-dbsel-');
      dirs.push(dir);
      return path.join(dir, 'data');
    }

    it('when DATABASE_URL points at an empty database, then the service migrates it, answers /ready and starts no embedded database', async () => {
      const db = await emptyDatabase();
      const child = await spawnService({ DATABASE_URL: db.url, DATA_DIR: dataDir() });
      await child.waitForReady(30_000);

      expect(await appliedMigrations(db)).toEqual(MIGRATION_FILES);
      expect(await serviceConnections(db)).toBeGreaterThan(0);
      expectNoEmbeddedDatabase(child);
      const chosen = logLines(child.stdout()).find((line) => line.source);
      expect(chosen?.source).toBe('DATABASE_URL');

      const exit = await child.stop();
      expect(exit.code).toBe(0);
      expectNoEmbeddedDatabase(child);
    });

    it('when DB_HOST, DB_PORT, DB_USER, DB_PASS and DB_DATABASE point at an empty database, then the service uses it and starts no embedded database', async () => {
      const db = await emptyDatabase();
      const admin = new URL(adminUrl());
      const child = await spawnService({
        DB_DIALECT: 'postgres',
        DB_HOST: admin.hostname,
        DB_PORT: admin.port || '5432',
        DB_USER: decodeURIComponent(admin.username),
        DB_PASS: decodeURIComponent(admin.password),
        DB_DATABASE: db.name,
        DATA_DIR: dataDir(),
      });
      await child.waitForReady(30_000);

      expect(await appliedMigrations(db)).toEqual(MIGRATION_FILES);
      expect(await serviceConnections(db)).toBeGreaterThan(0);
      expectNoEmbeddedDatabase(child);
      const chosen = logLines(child.stdout()).find((line) => line.source);
      expect(chosen?.source).toBe('DB_HOST');
      // The password never reaches the logs.
      if (admin.password) expect(child.stdout()).not.toContain(`:${decodeURIComponent(admin.password)}@`);

      expect((await child.stop()).code).toBe(0);
    });

    it('when DATABASE_URL points at nothing, then the service exits 1 within seconds with one line and starts no embedded database', async () => {
      const closedPort = await freeTestPort();
      const dir = dataDir();
      const result = await runToExit({ DATABASE_URL: `postgres://postgres:hunter2@127.0.0.1:${closedPort}/orderloop`, DATA_DIR: dir }, 20_000);
      expect(result.code).toBe(1);
      expect(result.ms).toBeLessThan(10_000);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^orderloop could not start: .*ECONNREFUSED/);
      expect(`${result.stdout}${result.stderr}`).not.toContain('hunter2');
      expect(fs.existsSync(path.join(dir, 'postgres'))).toBe(false);
    });

    it('when DATABASE_URL names a database that does not exist, then the service exits 1 saying so', async () => {
      const admin = new URL(adminUrl());
      admin.pathname = '/orderloop_no_such_database';
      const result = await runToExit({ DATABASE_URL: admin.toString(), DATA_DIR: dataDir() }, 20_000);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining('database "orderloop_no_such_database" does not exist')]);
    });

    it('when DB_POOL_MAX=1, then start-up still migrates an empty database (the migration lock has a connection of its own)', async () => {
      const db = await emptyDatabase();
      const child = await spawnService({ DATABASE_URL: db.url, DATA_DIR: dataDir(), DB_POOL_MAX: '1' });
      await child.waitForReady(30_000);
      expect(await appliedMigrations(db)).toEqual(MIGRATION_FILES);
      expect((await child.stop()).code).toBe(0);
    });

    it('when MIGRATE_ON_START=false, then the service leaves the schema alone', async () => {
      const db = await emptyDatabase();
      const child = await spawnService({ DATABASE_URL: db.url, DATA_DIR: dataDir(), MIGRATE_ON_START: 'false', ROLE: 'api' });
      await child.waitForReady(30_000);
      const [row] = (await adminQuery(db.url, `SELECT to_regclass('"SequelizeMeta"') AS t`)) as Array<{ t: string | null }>;
      expect(row.t).toBeNull();
      expect((await child.stop()).code).toBe(0);
    });

    it('when two processes start at once on one fresh database, then both become ready and each migration ran exactly once', async () => {
      const db = await emptyDatabase();
      const [a, b] = await Promise.all([
        spawnService({ DATABASE_URL: db.url, DATA_DIR: dataDir() }),
        spawnService({ DATABASE_URL: db.url, DATA_DIR: dataDir() }),
      ]);
      await Promise.all([a.waitForReady(45_000), b.waitForReady(45_000)]);

      const rows = (await adminQuery(db.url, 'SELECT name, count(*)::int AS n FROM "SequelizeMeta" GROUP BY name ORDER BY name')) as Array<{
        name: string;
        n: number;
      }>;
      expect(rows).toEqual(MIGRATION_FILES.map((name) => ({ name, n: 1 })));

      // One process applied them all; the other found the schema up to date.
      const applied = [a, b].map((child) => logLines(child.stdout()).find((line) => Array.isArray(line.applied))?.applied as string[]);
      expect(applied.map((list) => list.length).sort()).toEqual([0, MIGRATION_FILES.length]);
      for (const child of [a, b]) {
        const errors = logLines(child.stdout()).filter((line) => Number(line.level) >= 50);
        expect(errors).toEqual([]);
        expect(child.stderr()).toBe('');
      }

      const exits = await Promise.all([a.stop(), b.stop()]);
      expect(exits.map((exit) => exit.code)).toEqual([0, 0]);
    });
  });
});
