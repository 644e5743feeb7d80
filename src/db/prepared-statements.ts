import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * node-postgres whose clients send every query that has parameters as a named prepared
 * statement, so PostgreSQL parses and plans each statement text once per connection instead of
 * on every call. The order flow's statements are large CTEs: planning them was about half of
 * the database's work per order (pg_stat_statements), and preparing them raised end-to-end
 * throughput by about a fifth (README, Performance).
 *
 * Only public node-postgres API: a Client subclass whose query() forwards
 * `{ name, text, values }` (pg's documented prepared-statement form) to Client#query. Given to
 * Sequelize as its `dialectModule` and to the queue's pg.Pool (handed to pg-boss) as its `Client`. Statement texts are
 * the code's own SQL with $n parameters, so there are few of them; past MAX_NAMED_STATEMENTS
 * distinct texts the rest go unnamed, so a caller that builds texts from data cannot fill the
 * server's memory. Turn it off (DB_PREPARED_STATEMENTS=false) behind a PgBouncer in transaction
 * mode older than 1.21, which cannot route named statements.
 */

const MAX_NAMED_STATEMENTS = 500;
const namesByText = new Map<string, string>();

/** PostgreSQL keys prepared statements by their first 63 bytes (NAMEDATALEN): longer names could collide. */
const MAX_NAME_BYTES = 63;

/**
 * Names a text's prepared statement after the data/ statement that sends it (`orders.claim_charges`),
 * so a trace's pg span reads `pg.query:orders.claim_charges` instead of a hash. A name already
 * taken by another text, or too long, leaves the text to the hashed name.
 */
export function nameStatement(text: string, name: string): void {
  if (namesByText.has(text) || namesByText.size >= MAX_NAMED_STATEMENTS || Buffer.byteLength(name) > MAX_NAME_BYTES) return;
  if ([...namesByText.values()].includes(name)) return;
  namesByText.set(text, name);
}

function statementName(text: string): string | undefined {
  let name = namesByText.get(text);
  if (!name && namesByText.size < MAX_NAMED_STATEMENTS) {
    name = `orderloop_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    namesByText.set(text, name);
  }
  return name;
}

/**
 * Errors after which a named statement on this connection will keep failing: the table it reads
 * changed shape (0A000, "cached plan must not change result type"), or the server no longer has
 * it (26000). The connection is ended (Client#end), so no pool hands it out again and its
 * statements go with it; the next connection prepares afresh.
 */
const STALE_STATEMENT_CODES: ReadonlySet<string> = new Set(['0A000', '26000']);

type Callback = (error: Error | null, result: unknown) => void;

export class PreparingClient extends pg.Client {
  // pg.Client#query has many overloads; only (text, values, callback) with values is named,
  // which is how Sequelize and pg.Pool (so pg-boss) call it. Anything else goes out unchanged.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(config: any, values?: any, callback?: any): any {
    const name = typeof config === 'string' && Array.isArray(values) && values.length && typeof callback === 'function'
      ? statementName(config)
      : undefined;
    if (!name) return super.query(config, values, callback);
    return super.query({ name, text: config, values }, (error: Error | null, result: unknown) => {
      if (error && STALE_STATEMENT_CODES.has((error as { code?: string }).code ?? '')) this.end().catch(() => undefined);
      (callback as Callback)(error, result);
    });
  }
}

/** The pg module as Sequelize's `dialectModule`: everything of pg, with PreparingClient as Client. */
export const pgWithPreparedStatements: typeof pg = Object.assign(Object.create(pg) as typeof pg, { Client: PreparingClient });
