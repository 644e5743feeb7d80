import fs from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../config';
import { configuredDatabaseUrl } from '../db/database';
import { EMBEDDED_URL_FILE } from '../shared/paths';

/** For command-line tools: the configured database, else the embedded one a running service announced. */
export function cliDatabaseUrl(config: AppConfig): string | undefined {
  const urlFile = path.resolve(config.dataDir, EMBEDDED_URL_FILE);
  return configuredDatabaseUrl(config.db)?.url ?? (fs.existsSync(urlFile) ? fs.readFileSync(urlFile, 'utf8').trim() : undefined);
}

export const NO_DATABASE_MESSAGE = 'No database: set DATABASE_URL (or DB_HOST …), or start the service so its embedded PostgreSQL runs.';
