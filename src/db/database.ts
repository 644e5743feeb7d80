import fs from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../config';
import type { Logger } from '../shared/logger';
import { EMBEDDED_URL_FILE } from '../shared/paths';
import { startEmbeddedPostgres } from './embedded';

export type DatabaseSource = 'DATABASE_URL' | 'DB_HOST' | 'embedded';

export interface ChosenDatabase {
  url: string;
  source: DatabaseSource;
  /** Stops what this process started (the embedded server); a no-op otherwise. */
  release(): Promise<void>;
}

/** The one rule for choosing a database: DATABASE_URL, else DB_*, else an embedded PostgreSQL. */
export function configuredDatabaseUrl(db: AppConfig['db']): { url: string; source: DatabaseSource } | null {
  if (db.url) return { url: db.url, source: 'DATABASE_URL' };
  if (db.host) {
    const user = encodeURIComponent(db.user ?? 'postgres');
    const password = db.password ? `:${encodeURIComponent(db.password)}` : '';
    const database = encodeURIComponent(db.database ?? 'orderloop');
    return { url: `postgres://${user}${password}@${db.host}:${db.port}/${database}`, source: 'DB_HOST' };
  }
  return null;
}

export async function chooseDatabase(config: AppConfig, logger: Logger): Promise<ChosenDatabase> {
  const configured = configuredDatabaseUrl(config.db);
  if (configured) return { ...configured, release: async () => undefined };

  // Config already refuses production without a database; this keeps it true for any caller.
  if (config.production) throw new Error('NODE_ENV=production never starts the embedded PostgreSQL: set DATABASE_URL (or DB_HOST)');
  const dataDir = path.resolve(config.dataDir);
  const embedded = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), logger });
  const urlFile = path.join(dataDir, EMBEDDED_URL_FILE);
  try {
    // It holds the password: its owner's eyes only.
    fs.writeFileSync(urlFile, `${embedded.url}\n`, { mode: 0o600 });
    fs.chmodSync(urlFile, 0o600);
  } catch (error) {
    await embedded.stop().catch(() => undefined);
    throw error;
  }
  return {
    url: embedded.url,
    source: 'embedded',
    release: async () => {
      fs.rmSync(urlFile, { force: true });
      await embedded.stop();
    },
  };
}
