import { parseArgs } from 'node:util';
import { setClientDisabled } from '../modules/auth';
import { parseArgsOrExit, runClientsCommand } from './clients-command';

const USAGE = 'usage: npm run clients:disable -- --id <client_id>\n       npm run clients:enable -- --id <client_id>';

/**
 * `npm run clients:disable -- --id X`: X can no longer sign in, and every API process refuses its
 * tokens from its next read of the disabled clients (CLIENT_STATUS_REFRESH_S, at most 30 s).
 * `npm run clients:enable -- --id X` (this script with --enable) undoes it.
 */
const { values } = parseArgsOrExit(
  () => parseArgs({ options: { id: { type: 'string' }, enable: { type: 'boolean', default: false } }, strict: true, allowPositionals: false }),
  USAGE,
);
const clientId = values.id;
if (!clientId) {
  process.stderr.write(`--id is required\n${USAGE}\n`);
  process.exit(2);
}
const enable = values.enable === true;

runClientsCommand(enable ? 'enable the client' : 'disable the client', async (config) => {
  const outcome = await setClientDisabled(clientId, !enable);
  if (outcome === 'not_found') {
    process.stderr.write(`There is no client ${clientId} (npm run clients:list shows them).\n`);
    return 1;
  }
  const refresh = config.auth.clientStatusRefreshSeconds;
  if (enable) {
    process.stdout.write(
      outcome === 'changed'
        ? `Enabled client ${clientId}: it can sign in again, and its tokens are accepted again within ${refresh} s.\n`
        : `Client ${clientId} is not disabled; nothing changed.\n`,
    );
  } else {
    process.stdout.write(
      outcome === 'changed'
        ? `Disabled client ${clientId}: it can no longer sign in, and every API process refuses its tokens within ${refresh} s (CLIENT_STATUS_REFRESH_S).\n`
        : `Client ${clientId} was already disabled; nothing changed.\n`,
    );
  }
  return 0;
});
