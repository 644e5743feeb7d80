import 'dotenv/config';
import { loadConfigOrExit } from './config';
import { startTracing } from './observability/tracing';
import type { RunningService } from './service';
import { createLogger } from './shared/logger';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  // Before the service's modules load: the instrumentations patch http, express and pg as they are required.
  const tracing = startTracing(config);
  // Required, not imported: an import would load it (express, pg) before tracing starts.
  const { startService } = require('./service') as typeof import('./service');
  const logger = createLogger(config.logLevel, { role: config.role }, undefined, { pretty: config.logPretty });

  let service: RunningService | undefined;
  let stopping = false;
  let pending: { reason: string; exitCode: number } | undefined;

  const shutdown = (reason: string, exitCode = 0) => {
    if (stopping) return;
    if (!service) {
      // Still starting: what has started so far (an embedded database above all) is only
      // known to startService, so stop once it returns. A second signal exits at once.
      if (pending) {
        process.stderr.write(`orderloop: ${reason} again during start-up; exiting without cleaning up\n`);
        process.exit(1);
      }
      pending = { reason, exitCode };
      logger.info({ signal: reason }, 'stopping as soon as start-up finishes');
      armDeadline();
      return;
    }
    stopping = true;
    logger.info({ signal: reason }, 'shutting down');
    armDeadline();
    service.stop().then(
      async () => {
        logger.info('stopped cleanly');
        // The last spans (this shutdown's among them) go out before the process does.
        await tracing.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'could not export the last spans'));
        process.exit(exitCode);
      },
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  let deadlineArmed = false;
  const armDeadline = () => {
    if (deadlineArmed) return;
    deadlineArmed = true;
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
  };

  // Registered before start-up, so a signal that arrives while the embedded database or the
  // migrations are starting does not kill the process and leave the database running.
  // SIGHUP: the terminal that ran `npm start` was closed.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal));
  // A crash still stops what this process started (the embedded database above all), then exits 1.
  const crash = (kind: string) => (error: unknown) => {
    logger.fatal({ err: error }, `${kind}: ${(error as Error)?.message ?? String(error)}; shutting down`);
    process.stderr.write(`orderloop crashed (${kind}): ${(error as Error)?.message ?? String(error)}\n`);
    shutdown(kind, 1);
  };
  process.on('uncaughtException', crash('uncaughtException'));
  process.on('unhandledRejection', crash('unhandledRejection'));

  try {
    service = await startService(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, `start-up failed: ${(error as Error).message}`);
    process.stderr.write(`orderloop could not start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  if (pending) shutdown(pending.reason, pending.exitCode);
}

void main();
