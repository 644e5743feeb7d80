import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createClient } from '../modules/auth';
import { parseArgsOrExit, runClientsCommand } from './clients-command';

const USAGE = 'usage: npm run clients:create -- --role customer --customer cust_001 [--id my-shop] [--name "My shop"]\n       npm run clients:create -- --role admin [--id ops]';

/** Creates an API client and prints its secret once; only a hash is stored. */
const { values } = parseArgsOrExit(
  () => parseArgs({ options: { role: { type: 'string' }, customer: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' } }, strict: true }),
  USAGE,
);
const role = values.role;
if ((role !== 'customer' && role !== 'admin') || (role === 'customer' && !/^[A-Za-z0-9_-]{1,64}$/.test(values.customer ?? '')) || (role === 'admin' && values.customer)) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const clientId = values.id ?? `${role === 'admin' ? 'admin' : values.customer}-${randomBytes(4).toString('hex')}`;
if (!/^[A-Za-z0-9._-]{1,64}$/.test(clientId)) {
  process.stderr.write(`--id must be 1-64 characters of letters, digits, ".", "_" or "-"\n`);
  process.exit(2);
}

runClientsCommand('create the client', async () => {
  try {
    const { secret } = await createClient({ clientId, role, customerId: values.customer ?? null, name: values.name });
    process.stdout.write(
      `Created ${role} client${role === 'customer' ? ` for ${values.customer}` : ''}.\n` +
        `  client_id:     ${clientId}\n  client_secret: ${secret}\n` +
        'The secret is shown only now; orderloop keeps only its hash.\n',
    );
    return 0;
  } catch (error) {
    if ((error as { name?: string }).name === 'SequelizeUniqueConstraintError') {
      process.stderr.write(`A client ${clientId} already exists.\n`);
      return 1;
    }
    throw error;
  }
});
