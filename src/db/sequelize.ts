import { Sequelize } from 'sequelize';
import type { Logger } from '../shared/logger';
import { pgWithPreparedStatements } from './prepared-statements';

export function createSequelize(url: string, options: { poolMax: number; logger: Logger; preparedStatements?: boolean }): Sequelize {
  return new Sequelize(url, {
    dialect: 'postgres',
    ...(options.preparedStatements ? { dialectModule: pgWithPreparedStatements } : {}),
    logging: (sql: string) => options.logger.trace({ sql }, 'sql'),
    pool: { max: options.poolMax, min: 0, idle: 10_000, acquire: 5_000 },
    define: { underscored: true },
    dialectOptions: { application_name: 'orderloop', connectionTimeoutMillis: 5_000 },
    retry: { max: 0 },
  });
}
