import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { nameStatement } from './prepared-statements';

/**
 * A named SQL statement of a module's data folder: declared once, typed by what it takes and
 * returns, run on the Sequelize pool (inside a transaction when given one). The name is for
 * people (logs, traces, pg_stat_statements searches); the text is sent with $n parameters,
 * so it runs as a prepared statement when DB_PREPARED_STATEMENTS is on.
 */
export interface Statement<Params extends readonly unknown[], Row extends object> {
  readonly name: string;
  readonly text: string;
  /** Every row the statement returns (none for a write without RETURNING). */
  rows(sequelize: Sequelize, params: Params, transaction?: Transaction | null): Promise<Row[]>;
  /** The first row, or null. */
  one(sequelize: Sequelize, params: Params, transaction?: Transaction | null): Promise<Row | null>;
}

export function statement<Row extends object = Record<string, never>, Params extends readonly unknown[] = []>(
  name: string,
  text: string,
): Statement<Params, Row> {
  const rows = (sequelize: Sequelize, params: Params, transaction?: Transaction | null) =>
    sequelize.query<Row>(text, {
      bind: params.map((value) => (value === undefined ? null : value)),
      transaction: transaction ?? undefined,
      // SELECT makes Sequelize return the rows of any statement, writes with RETURNING included.
      type: QueryTypes.SELECT,
    });
  nameStatement(text, name);
  return {
    name,
    text,
    rows,
    one: async (sequelize, params, transaction) => (await rows(sequelize, params, transaction))[0] ?? null,
  };
}
