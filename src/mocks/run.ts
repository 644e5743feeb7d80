import 'dotenv/config';
import { loadConfigOrExit } from '../config';
import { startPaymentProviderMock } from './payment-provider';
import { startWarehouseMock } from './warehouse';

/** Runs one mock alone (`npm run mock:payments` / `npm run mock:warehouse`) for split-role set-ups. */
async function main(): Promise<void> {
  const which = process.argv[2];
  const config = loadConfigOrExit();
  const server =
    which === 'payments'
      ? await startPaymentProviderMock({ ...config.payments.mock, hangMs: config.payments.timeoutMs + 1000 }, config.payments.mock.port)
      : which === 'warehouse'
        ? await startWarehouseMock(config.inventory.mock, config.inventory.mock.port)
        : null;
  if (!server) {
    process.stderr.write('usage: node dist/src/mocks/run.js payments|warehouse\n');
    process.exit(2);
  }
  process.stdout.write(`mock ${which} listening on ${server.url}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
