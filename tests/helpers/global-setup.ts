import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PgBoss from 'pg-boss';
import { Sequelize } from 'sequelize';
import { DEFAULT_QUEUE_SCHEMA } from '../../src/config';
import { createMigrator } from '../../src/db/migrate';
import { passwordFileOf, startEmbeddedPostgres } from '../../src/db/embedded';
import { createLogger } from '../../src/shared/logger';
import { databaseUrl, adminQuery } from './pg';

/**
 * One PostgreSQL for the run (TEST_DATABASE_URL, or an embedded one in a temp dir), one
 * migrated template database, and each test file clones its own database from it.
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  // Child-process tests run the built service, as `npm start` does.
  try {
    execSync('npx tsc -p tsconfig.build.json', { cwd: root, stdio: 'inherit' });
  } catch (error) {
    // tsc still writes dist/ on type errors (no noEmitOnError); `npm run typecheck` is what judges
    // types (CI runs it first). Only a build that wrote nothing stops the run.
    if (!fs.existsSync(path.join(root, 'dist', 'src', 'main.js'))) throw error;
    process.stdout.write('\n[tests] tsc reported type errors (above); running on the JavaScript it emitted\n');
  }

  let adminUrl = process.env.TEST_DATABASE_URL;
  let embedded: { stop(): Promise<void>; dataDir: string } | undefined;
  if (!adminUrl) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderloop-test-pg-'));
    fs.chmodSync(dataDir, 0o755);
    try {
      const server = await startEmbeddedPostgres({ dataDir, logger: createLogger('silent'), database: 'postgres' });
      embedded = { stop: server.stop, dataDir };
      adminUrl = databaseUrl(server.url, 'postgres');
      process.stdout.write(`\n[tests] embedded PostgreSQL on port ${server.port}\n`);
    } catch (error) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(passwordFileOf(dataDir), { force: true });
      throw error;
    }
    (globalThis as Record<string, unknown>).__ORDERLOOP_EMBEDDED__ = embedded;
  } else {
    process.stdout.write(`\n[tests] PostgreSQL from TEST_DATABASE_URL\n`);
  }

  const template = `orderloop_tpl_${process.pid}`;
  try {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await adminQuery(adminUrl, `CREATE DATABASE ${template}`);
    const templateUrl = databaseUrl(adminUrl, template);

    const sequelize = new Sequelize(templateUrl, { dialect: 'postgres', logging: false });
    try {
      await createMigrator(sequelize).up();
    } finally {
      await sequelize.close();
    }
    // Installing pg-boss's schema once here saves every test file from doing it.
    const boss = new PgBoss({ connectionString: templateUrl, schema: DEFAULT_QUEUE_SCHEMA, schedule: false, supervise: false });
    boss.on('error', () => undefined);
    await boss.start();
    await boss.stop({ graceful: false, wait: true });
  } catch (error) {
    // Jest skips global teardown when setup fails: do its work here, or the server and its files outlive the run.
    if (embedded) {
      await embedded.stop().catch(() => undefined);
      fs.rmSync(embedded.dataDir, { recursive: true, force: true });
      fs.rmSync(passwordFileOf(embedded.dataDir), { force: true });
    } else {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
    }
    throw error;
  }

  process.env.ORDERLOOP_TEST_ADMIN_URL = adminUrl;
  process.env.ORDERLOOP_TEST_TEMPLATE = template;
  process.env.ORDERLOOP_TEST_RUN = String(process.pid);
}
