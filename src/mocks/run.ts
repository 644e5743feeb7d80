import 'dotenv/config';
import { isProductionEnvironment, loadConfigOrExit } from '../config';
import { startPaymentProviderMock } from './payment-provider';
import { startWarehouseMock } from './warehouse';

/**
 * Runs one mock alone (`npm run mock:payments` / `npm run mock:warehouse`) for split-role set-ups,
 * on HOST (127.0.0.1 unless told: workers on other hosts need HOST=0.0.0.0 or an address).
 */
async function main(): Promise<void> {
  const which = process.argv[2];
  if (isProductionEnvironment()) {
    // A mock answers "charged" without charging anyone: it has no place where NODE_ENV=production.
    process.stderr.write(`Refusing to start the mock ${which ?? ''} with NODE_ENV=production: point PAYMENT_PROVIDER_URL and WAREHOUSE_URL at the real services.\n`);
    process.exit(1);
  }
  const config = loadConfigOrExit();
  const server =
    which === 'payments'
      ? await startPaymentProviderMock({ ...config.payments.mock, hangMs: config.payments.timeoutMs + 1000 }, config.payments.mock.port, config.host)
      : which === 'warehouse'
        ? await startWarehouseMock(config.inventory.mock, config.inventory.mock.port, {}, config.host)
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
