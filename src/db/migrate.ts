import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import type { Logger } from '../shared/logger';
import { MIGRATIONS_DIR, SEEDERS_DIR } from '../shared/paths';

// Arbitrary but fixed: every orderloop process contends for the same advisory locks.
export const ADVISORY_LOCKS = Object.freeze({
  /** Held while migrations run. */
  migrations: 7_301_462_001,
  /** Held while pg-boss queues are created or updated (concurrent create_queue calls deadlock in PostgreSQL). */
  queueSetup: 7_301_462_002,
});

interface CliMigration {
  up(queryInterface: unknown, sequelize: typeof Sequelize): Promise<unknown>;
  down?(queryInterface: unknown, sequelize: typeof Sequelize): Promise<unknown>;
}

function cliFiles(dir: string): { name: string; path: string }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.js'))
    .sort()
    .map((file) => ({ name: file, path: path.join(dir, file) }));
}

/**
 * Umzug over the sequelize-cli migration files, sharing its SequelizeMeta table,
 * so `npx sequelize-cli db:migrate` and the service always agree on what ran.
 */
export function createMigrator(
  sequelize: Sequelize,
  logger?: Logger,
  options: { dir?: string; tableName?: string } = {},
): Umzug<{ sequelize: Sequelize }> {
  const queryInterface = sequelize.getQueryInterface();
  return new Umzug({
    migrations: cliFiles(options.dir ?? MIGRATIONS_DIR).map((file) => ({
      name: file.name,
      path: file.path,
      up: async () => (require(file.path) as CliMigration).up(queryInterface, Sequelize),
      down: async () => (require(file.path) as CliMigration).down?.(queryInterface, Sequelize),
    })),
    context: { sequelize },
    storage: new SequelizeStorage({ sequelize, tableName: options.tableName ?? 'SequelizeMeta' }),
    logger: logger
      ? { info: (m) => logger.info(m, 'migration'), warn: (m) => logger.warn(m), error: (m) => logger.error(m), debug: () => undefined }
      : undefined,
  });
}

/**
 * Holds a session-level advisory lock while `work` runs, so that only one process at a time
 * (on any host) does it. The lock lives on a connection of its own, outside the pool: `work`
 * may need every pooled connection (DB_POOL_MAX=1 would otherwise wait on itself), and closing
 * that connection always releases the lock, even when the unlock cannot be sent.
 */
export async function withAdvisoryLock<T>(sequelize: Sequelize, key: number, work: () => Promise<T>): Promise<T> {
  if (!Number.isSafeInteger(key)) throw new Error(`advisory lock key must be an integer, got ${key}`);
  // The same server and credentials as the pool (Sequelize's public config), on a connection of our own.
  const { host, port, username, password, database, ssl, dialectOptions } = sequelize.config;
  const tls = (dialectOptions as { ssl?: pg.ClientConfig['ssl'] } | undefined)?.ssl ?? (ssl || undefined);
  const connection = new pg.Client({
    host,
    port: port === undefined ? undefined : Number(port),
    user: username,
    password: password ?? undefined,
    database,
    ssl: tls,
    application_name: 'orderloop-lock',
    connectionTimeoutMillis: 5_000,
  });
  await connection.connect();
  // An error on the idle lock connection (the server restarted) must not crash the process: work() fails on its own.
  connection.on('error', () => undefined);
  try {
    await connection.query('SELECT pg_advisory_lock($1)', [key]);
    const result = await work();
    await connection.query('SELECT pg_advisory_unlock($1)', [key]);
    return result;
  } finally {
    await connection.end().catch(() => undefined);
  }
}

/** Applies pending migrations; safe when several processes start at once. */
export async function migrateUp(sequelize: Sequelize, logger?: Logger): Promise<string[]> {
  return withAdvisoryLock(sequelize, ADVISORY_LOCKS.migrations, async () => {
    const applied = await createMigrator(sequelize, logger).up();
    return applied.map((m) => m.name);
  });
}

/** Seeders are idempotent by design, so running them again changes nothing. */
export async function runSeeders(sequelize: Sequelize): Promise<void> {
  const queryInterface = sequelize.getQueryInterface();
  for (const file of cliFiles(SEEDERS_DIR)) {
    await (require(file.path) as CliMigration).up(queryInterface, Sequelize);
  }
}
