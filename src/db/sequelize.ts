import { Sequelize } from 'sequelize';
import type { Logger } from '../shared/logger';
import { pgWithPreparedStatements } from './prepared-statements';
import { DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS } from '../config';

/**
 * PostgreSQL's startup option for connections whose every write is redone if lost (the webhook
 * relay's and deliveries', WORKER_JOBS=events): a commit returns without waiting for its WAL flush.
 * A database crash can lose the last fraction of a second of them, never corrupt anything; the
 * events stay undispatched and are relayed again, an attempt is made again (deliveries are at least once).
 */
const ASYNCHRONOUS_COMMIT = '-c synchronous_commit=off';

/**
 * PostgreSQL plans each execution of a prepared statement with its values and the tables' current
 * sizes (named statements still save the parsing). A plan cached once is otherwise kept for the
 * connection's life: cached while a table was small (a queue with nothing waiting) it read the
 * whole table on every call once the table had grown, and the statistics that would replace it
 * come from ANALYZE, which never runs with autovacuum off and lags a table that fills in seconds.
 */
const FRESH_PLANS = '-c plan_cache_mode=force_custom_plan';

/**
 * node-postgres' `options` (settings sent when a connection opens): fresh plans wherever statements
 * are prepared (unnamed ones are always planned with their values), asynchronous commit where asked.
 */
export function sessionOptions(settings: { freshPlans?: boolean; asynchronousCommit?: boolean }): { options?: string } {
  const options = [...(settings.freshPlans ? [FRESH_PLANS] : []), ...(settings.asynchronousCommit ? [ASYNCHRONOUS_COMMIT] : [])];
  return options.length ? { options: options.join(' ') } : {};
}

/**
 * `asynchronousCommit`: see ASYNCHRONOUS_COMMIT.
 * `idleInTransactionTimeoutMs`: PostgreSQL ends a session that sits inside a transaction this long
 * without sending a statement (a process frozen or paused mid-transaction), so its row locks cannot
 * hold cancels and other jobs forever. No code here waits on anything but the database inside a
 * transaction, so a live process never comes near it. 0 turns it off.
 */
export function createSequelize(
  url: string,
  options: { poolMax: number; logger: Logger; preparedStatements?: boolean; idleInTransactionTimeoutMs?: number; asynchronousCommit?: boolean },
): Sequelize {
  const idleInTransaction = options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS;
  return new Sequelize(url, {
    dialect: 'postgres',
    ...(options.preparedStatements ? { dialectModule: pgWithPreparedStatements } : {}),
    logging: (sql: string) => options.logger.trace({ sql }, 'sql'),
    pool: { max: options.poolMax, min: 0, idle: 10_000, acquire: 5_000 },
    define: { underscored: true },
    dialectOptions: {
      application_name: 'orderloop',
      connectionTimeoutMillis: 5_000,
      idle_in_transaction_session_timeout: idleInTransaction,
      // Plans stay cached here: planning afresh cost a fifth more of the database's CPU per order (README, Performance).
      ...sessionOptions({ asynchronousCommit: options.asynchronousCommit }),
    },
    retry: { max: 0 },
  });
}
