import fs from 'node:fs';
import { passwordFileOf } from '../../src/db/embedded';
import { adminQuery } from './pg';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env.ORDERLOOP_TEST_ADMIN_URL;
  const template = process.env.ORDERLOOP_TEST_TEMPLATE;
  const embedded = (globalThis as Record<string, unknown>).__ORDERLOOP_EMBEDDED__ as { stop(): Promise<void>; dataDir: string } | undefined;
  if (embedded) {
    await embedded.stop();
    // Each run initialises a fresh cluster (~60 MB): leaving it would fill the temp directory.
    fs.rmSync(embedded.dataDir, { recursive: true, force: true });
    fs.rmSync(passwordFileOf(embedded.dataDir), { force: true });
    return;
  }
  if (adminUrl && template) {
    const rows = await adminQuery(adminUrl, `SELECT datname FROM pg_database WHERE datname LIKE 'orderloop_t\\_' || $1 || '\\_%' OR datname = $2`, [process.env.ORDERLOOP_TEST_RUN, template]);
    for (const { datname } of rows as Array<{ datname: string }>) {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  }
}
