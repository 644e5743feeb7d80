import { Sequelize } from 'sequelize';
import type { Logger } from '../shared/logger';
import { pgWithPreparedStatements } from './prepared-statements';
import { DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS } from '../config';

/**
 * `idleInTransactionTimeoutMs`: PostgreSQL ends a session that sits inside a transaction this long
 * without sending a statement (a process frozen or paused mid-transaction), so its row locks cannot
 * hold cancels and other jobs forever. No code here waits on anything but the database inside a
 * transaction, so a live process never comes near it. 0 turns it off.
 */
export function createSequelize(
  url: string,
  options: { poolMax: number; logger: Logger; preparedStatements?: boolean; idleInTransactionTimeoutMs?: number },
): Sequelize {
  const idleInTransaction = options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS;
  return new Sequelize(url, {
    dialect: 'postgres',
    ...(options.preparedStatements ? { dialectModule: pgWithPreparedStatements } : {}),
    logging: (sql: string) => options.logger.trace({ sql }, 'sql'),
    pool: { max: options.poolMax, min: 0, idle: 10_000, acquire: 5_000 },
    define: { underscored: true },
    dialectOptions: { application_name: 'orderloop', connectionTimeoutMillis: 5_000, idle_in_transaction_session_timeout: idleInTransaction },
    retry: { max: 0 },
  });
}
