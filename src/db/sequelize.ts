import { QueryTypes, Sequelize, type Transaction } from 'sequelize';
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

/** Runs one SQL statement with $1.. parameters and returns plain rows. */
export async function selectRows<T extends object>(
  sequelize: Sequelize,
  sql: string,
  bind: unknown[] = [],
  transaction?: Transaction | null,
): Promise<T[]> {
  return sequelize.query<T>(sql, { bind, transaction: transaction ?? undefined, type: QueryTypes.SELECT });
}

/** Runs an INSERT/UPDATE/DELETE … RETURNING and gives the returned rows. */
export async function writeRows<T extends object>(
  sequelize: Sequelize,
  sql: string,
  bind: unknown[] = [],
  transaction?: Transaction | null,
): Promise<T[]> {
  const [rows] = await sequelize.query(sql, { bind, transaction: transaction ?? undefined, type: QueryTypes.RAW });
  return rows as T[];
}
