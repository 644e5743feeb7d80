import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * node-postgres whose clients send every query that has parameters as a named prepared
 * statement, so PostgreSQL parses and plans each statement text once per connection instead of
 * on every call. The order flow's statements are large CTEs: planning them was about half of
 * the database's work per order (pg_stat_statements), and preparing them raised end-to-end
 * throughput by about a fifth (README, Performance).
 *
 * Given to Sequelize as its `dialectModule` and to pg-boss's pool as its `Client`. Statement
 * texts are the code's own SQL with $n parameters, so there are few of them; past
 * MAX_NAMED_STATEMENTS distinct texts the rest go unnamed, so a caller that builds texts
 * from data cannot fill the server's memory. Turn it off (DB_PREPARED_STATEMENTS=false) behind a
 * PgBouncer in transaction mode older than 1.21, which cannot route named statements.
 */

const MAX_NAMED_STATEMENTS = 500;
const namesByText = new Map<string, string>();

function statementName(text: string): string | undefined {
  let name = namesByText.get(text);
  if (!name && namesByText.size < MAX_NAMED_STATEMENTS) {
    name = `orderloop_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    namesByText.set(text, name);
  }
  return name;
}

export class PreparingClient extends pg.Client {}

const unnamedQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;

/**
 * Errors after which a named statement on this connection will keep failing: the table it reads
 * changed shape (0A000, "cached plan must not change result type"), or the server no longer has
 * it (26000). The connection is marked invalid, so Sequelize's pool drops it instead of reusing it
 * (pg-boss's pool drops a connection after any error), and pg forgets the name.
 */
const STALE_STATEMENT_CODES: ReadonlySet<string> = new Set(['0A000', '26000']);

function forgetIfStale(client: pg.Client, name: string, error: unknown): void {
  if (!STALE_STATEMENT_CODES.has((error as { code?: string } | null)?.code ?? '')) return;
  const internals = client as unknown as { _invalid?: boolean; connection?: { parsedStatements?: Record<string, string> } };
  internals._invalid = true;
  delete internals.connection?.parsedStatements?.[name];
}

// pg.Client#query has many overloads; only (text, values, callback) with values is rewritten,
// which is how Sequelize and pg.Pool (so pg-boss) call it. Anything else goes out unnamed.
(PreparingClient.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function query(
  this: pg.Client,
  config: unknown,
  values?: unknown,
  callback?: unknown,
) {
  const name = typeof config === 'string' && Array.isArray(values) && values.length && typeof callback === 'function'
    ? statementName(config)
    : undefined;
  if (!name) return unnamedQuery.call(this, config, values, callback);
  return unnamedQuery.call(this, { name, text: config, values }, (error: unknown, result: unknown) => {
    if (error) forgetIfStale(this, name, error);
    (callback as (e: unknown, r: unknown) => void)(error, result);
  });
};

/** The pg module as Sequelize's `dialectModule`: everything of pg, with PreparingClient as Client. */
export const pgWithPreparedStatements: typeof pg = Object.assign(Object.create(pg) as typeof pg, { Client: PreparingClient });
