import PgBoss from 'pg-boss';
import { DEFAULT_QUEUE_SCHEMA } from '../config';

/**
 * What operators and tests ask about pg-boss's jobs, in one place. pg-boss 10 answers one
 * job by id (getJobById) and a queue's backlog (getQueueSize), but not counts per state, lists
 * of failed jobs or jobs by payload: those read its job table here, through pg-boss's own
 * connection (getDb), and nowhere else in the code. The bench and the chaos suite use it too
 * (inspectJobs), on a pg-boss that is handed their own connection and never started.
 */

export interface JobStateCount {
  queue: string;
  state: string;
  count: number;
}

export interface InspectedJob {
  id: string;
  queue: string;
  state: string;
  data: unknown;
  output: unknown;
  retryCount: number;
  retryLimit: number;
  createdOn: Date;
  startedOn: Date | null;
  completedOn: Date | null;
}

const JOB_COLUMNS = `id, name AS queue, state::text AS state, data, output, retry_count AS "retryCount", retry_limit AS "retryLimit",
  created_on AS "createdOn", started_on AS "startedOn", completed_on AS "completedOn"`;

export class QueueInspector {
  private readonly table: string;

  constructor(
    private readonly boss: PgBoss,
    schema: string,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid queue schema name: ${schema}`);
    this.table = `"${schema}".job`;
  }

  private async rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return (await this.boss.getDb().executeSql(text, values)).rows as T[];
  }

  /** Jobs per queue and state (only the pairs that have jobs). */
  async countsByQueueAndState(): Promise<JobStateCount[]> {
    const rows = await this.rows<{ queue: string; state: string; count: string }>(
      `SELECT name AS queue, state::text AS state, count(*) AS count FROM ${this.table} GROUP BY 1, 2`,
    );
    return rows.map((r) => ({ queue: r.queue, state: r.state, count: Number(r.count) }));
  }

  /** How many jobs pg-boss holds, in any queue and state (what a request that writes nothing must leave unchanged). */
  async totalJobs(): Promise<number> {
    const [row] = await this.rows<{ count: string }>(`SELECT count(*) AS count FROM ${this.table}`);
    return Number(row.count);
  }

  /** The jobs of the given queues that a worker holds right now (state active). */
  async activeJobs(queues: readonly string[]): Promise<InspectedJob[]> {
    return this.rows<InspectedJob>(
      `SELECT ${JOB_COLUMNS} FROM ${this.table} WHERE name = ANY($1::text[]) AND state = 'active' ORDER BY started_on, id`,
      [[...queues]],
    );
  }

  /** The jobs with these ids, in any queue (pg-boss's getJobById asks for one queue and one id). */
  async jobsById(ids: readonly string[]): Promise<InspectedJob[]> {
    return this.rows<InspectedJob>(`SELECT ${JOB_COLUMNS} FROM ${this.table} WHERE id = ANY($1::uuid[])`, [[...ids]]);
  }

  /** The newest failed jobs of any queue, and every job of the given (dead-letter) queues, with their error text (≤ 300 characters). */
  async failedJobs(limit: number, alsoQueues: readonly string[] = []): Promise<Array<InspectedJob & { error: string | null }>> {
    return this.rows<InspectedJob & { error: string | null }>(
      `SELECT ${JOB_COLUMNS}, left(COALESCE(output->>'message', output::text), 300) AS error FROM ${this.table}
       WHERE state = 'failed' OR name = ANY($1::text[])
       ORDER BY COALESCE(completed_on, created_on) DESC
       LIMIT $2`,
      [[...alsoQueues], limit],
    );
  }

  /** The oldest job of a queue still waiting to start (created) under a singleton key. */
  async oldestWaitingJob(queue: string, singletonKey: string): Promise<InspectedJob | null> {
    const [job] = await this.rows<InspectedJob>(
      `SELECT ${JOB_COLUMNS} FROM ${this.table}
       WHERE name = $1 AND state = 'created' AND singleton_key = $2
       ORDER BY created_on LIMIT 1`,
      [queue, singletonKey],
    );
    return job ?? null;
  }

  /**
   * For each of the queues that has jobs ready to run (created or retrying, due now), how long
   * the longest-waiting of them has been due: how far behind the workers are.
   */
  async readyBacklogAges(queues: readonly string[]): Promise<Array<{ queue: string; ageSeconds: number }>> {
    return this.rows<{ queue: string; ageSeconds: number }>(
      `SELECT name AS queue, extract(epoch FROM now() - min(start_after))::float8 AS "ageSeconds" FROM ${this.table}
       WHERE name = ANY($1::text[]) AND state IN ('created', 'retry') AND start_after <= now()
       GROUP BY name`,
      [[...queues]],
    );
  }

  /** The jobs of a queue whose payload has `key` = `value` (e.g. every charge job of one order), oldest first. */
  async jobsWithData(queue: string, key: string, value: string): Promise<InspectedJob[]> {
    return this.rows<InspectedJob>(
      `SELECT ${JOB_COLUMNS} FROM ${this.table} WHERE name = $1 AND data->>$2 = $3 ORDER BY created_on, id`,
      [queue, key, value],
    );
  }
}

/** An inspector for tools outside the service (bench, chaos): pg-boss on the tool's own pool, never started. */
export function inspectJobs(pool: { query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> }, schema = DEFAULT_QUEUE_SCHEMA): QueueInspector {
  const boss = new PgBoss({ db: { executeSql: async (text: string, values: unknown[] = []) => ({ rows: (await pool.query(text, values)).rows }) }, schema });
  return new QueueInspector(boss, schema);
}
