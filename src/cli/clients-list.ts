import { parseArgs } from 'node:util';
import { listClients } from '../modules/auth';
import { parseArgsOrExit, runClientsCommand } from './clients-command';

const COLUMNS = ['id', 'role', 'customer', 'created', 'disabled', 'name'] as const;

/** `npm run clients:list`: every API client, oldest first, one line each; never a secret or its hash. "-" means none. */
parseArgsOrExit(() => parseArgs({ options: {}, strict: true, allowPositionals: false }), 'usage: npm run clients:list');

runClientsCommand('list the clients', async () => {
  const clients = await listClients();
  if (!clients.length) {
    process.stdout.write('No API clients yet: npm run clients:create -- --role admin\n');
    return 0;
  }
  const rows = clients.map((c) => [c.clientId, c.role, c.customerId ?? '-', c.createdAt.toISOString(), c.disabledAt?.toISOString() ?? '-', c.name ?? '-']);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`${[line(COLUMNS), ...rows.map(line)].join('\n')}\n`);
  return 0;
});
