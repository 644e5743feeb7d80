import 'dotenv/config';
import { loadConfigOrExit } from '../config';
import { registerModels } from '../db/models';
import { createSequelize } from '../db/sequelize';
import { cliDatabaseUrl, NO_DATABASE_MESSAGE } from './database-url';
import { checkInventory } from '../modules/inventory';
import { checkOrderIntegrity, releaseOrphanedReservations } from '../modules/orders';
import { createLogger } from '../shared/logger';

const USAGE = 'usage: npm run inventory:check [-- --fix] [--stuck-minutes N] [--json]';

/** `npm run inventory:check [-- --fix]`: reports (and repairs) broken stock invariants. Exit 1 when something stays broken. */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const fix = args.includes('--fix');
  const json = args.includes('--json');
  const stuckIndex = args.indexOf('--stuck-minutes');
  const stuckAfterMinutes = stuckIndex >= 0 ? Number(args[stuckIndex + 1]) : 30;
  if (!Number.isInteger(stuckAfterMinutes) || stuckAfterMinutes < 1 || args.some((a) => a.startsWith('--') && !['--fix', '--json', '--stuck-minutes'].includes(a))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfigOrExit();
  const url = cliDatabaseUrl(config);
  if (!url) {
    process.stderr.write(`${NO_DATABASE_MESSAGE}\n`);
    return 2;
  }
  const logger = createLogger(json ? 'silent' : config.logLevel === 'info' ? 'warn' : config.logLevel, { tool: 'inventory-check' });
  const sequelize = registerModels(createSequelize(url, { poolMax: 2, logger }));
  try {
    const orders = await checkOrderIntegrity({ stuckAfterMinutes });
    const orphaned = orders.problems.some((p) => p.kind === 'ORPHANED_RESERVATION');
    // One transaction: stock_reserved recomputed, closed orders' leftovers released through the
    // orders module's close path, on hand kept where it was.
    const stock = await checkInventory(sequelize, {
      fix,
      logger,
      releaseWithin: orphaned ? (transaction) => releaseOrphanedReservations(sequelize, transaction, logger) : undefined,
    });
    const report = { problems: [...stock.problems, ...orders.problems], repairs: stock.repairs };
    const remaining = fix ? report.problems.filter((p) => !p.fixable) : report.problems;
    if (json) {
      process.stdout.write(`${JSON.stringify({ ...report, remaining: remaining.length }, null, 2)}\n`);
    } else {
      process.stdout.write(report.problems.length ? `${report.problems.length} problem(s) found:\n` : 'inventory check: every invariant holds\n');
      for (const p of report.problems) process.stdout.write(`  [${p.kind}] ${p.message}\n`);
      if (fix) {
        process.stdout.write(report.repairs.length ? `${report.repairs.length} repair(s):\n` : 'nothing to repair\n');
        for (const r of report.repairs) process.stdout.write(`  ${r}\n`);
      } else if (report.problems.some((p) => p.fixable)) {
        process.stdout.write('run with --fix to repair stock_reserved and release orphaned reservations\n');
      }
    }
    return remaining.length ? 1 : 0;
  } finally {
    await sequelize.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`inventory check failed: ${(error as Error).message}\n`);
    process.exit(2);
  },
);
