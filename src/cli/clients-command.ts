import 'dotenv/config';
import { loadConfigOrExit, type AppConfig } from '../config';
import { createSequelize } from '../db/sequelize';
import { registerModels } from '../db/models';
import { createLogger } from '../shared/logger';
import { cliDatabaseUrl, NO_DATABASE_MESSAGE } from './database-url';

/**
 * The frame of the clients:* commands: `work` runs with the models on the configured database
 * (or the embedded one a running service announced), which is closed afterwards; its result is
 * the exit code. No database: exit 2 with a message; an error: its message and exit 1.
 */
export function runClientsCommand(what: string, work: (config: AppConfig) => Promise<number>): void {
  const run = async (): Promise<number> => {
    const config = loadConfigOrExit();
    const url = cliDatabaseUrl(config);
    if (!url) {
      process.stderr.write(`${NO_DATABASE_MESSAGE}\n`);
      return 2;
    }
    const sequelize = registerModels(createSequelize(url, { poolMax: 1, logger: createLogger('silent') }));
    try {
      return await work(config);
    } finally {
      await sequelize.close();
    }
  };
  run().then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`could not ${what}: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}

/** Parses the arguments with node's parseArgs; on a bad one, prints it with the usage and exits 2. */
export function parseArgsOrExit<T>(parse: () => T, usage: string): T {
  try {
    return parse();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
}
