import { randomBytes } from 'node:crypto';
import { adminQuery, databaseUrl } from './pg';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest (global setup prepares the database)`);
  return value;
}

export function adminUrl(): string {
  return required('ORDERLOOP_TEST_ADMIN_URL');
}

/** A fresh database cloned from the migrated template: this test file's own. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = adminUrl();
  const template = required('ORDERLOOP_TEST_TEMPLATE');
  const name = `orderloop_t_${required('ORDERLOOP_TEST_RUN')}_${process.env.JEST_WORKER_ID ?? '0'}_${randomBytes(4).toString('hex')}`;
  await adminQuery(admin, `CREATE DATABASE ${name} TEMPLATE ${template}`);
  return {
    name,
    url: databaseUrl(admin, name),
    drop: async () => {
      await adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** An empty database (no migrations), for tests of the migrations themselves. */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  const admin = adminUrl();
  const name = `orderloop_t_${required('ORDERLOOP_TEST_RUN')}_${process.env.JEST_WORKER_ID ?? '0'}_${randomBytes(4).toString('hex')}`;
  await adminQuery(admin, `CREATE DATABASE ${name}`);
  return {
    name,
    url: databaseUrl(admin, name),
    drop: async () => {
      await adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
