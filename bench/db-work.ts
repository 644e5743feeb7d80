import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { Client } from 'pg';

/**
 * The database work of the service, read from the server's own counters for the bench database:
 * statements (round trips) from pg_stat_statements and commits from pg_stat_database, each as
 * the delta between two snapshots minus the statements the bench itself sent in between.
 */

export const ROUND_TRIPS_UNAVAILABLE = 'n/a (load pg_stat_statements: shared_preload_libraries)';

/**
 * PostgreSQL publishes a backend's counters at most once a second, and an idle backend's only
 * after 10 s (PGSTAT_IDLE_INTERVAL): commits read sooner after a burst miss its last second.
 */
export const STATS_FLUSH_DELAY_MS = 11_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts every statement sent on `client`, so the bench can subtract its own load from the server's counters. */
export function countStatements(client: Client): { readonly sent: number } {
  const counter = { sent: 0 };
  const send = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    counter.sent += 1;
    return send(...args);
  }) as Client['query'];
  return counter;
}

interface Snapshot {
  /** sum(calls) of the database's statements, null without pg_stat_statements. */
  calls: number | null;
  /** Calls per statement (by queryid), with the start of its text; foreign key checks left out. */
  statements: Map<string, { calls: number; text: string }>;
  /** Foreign key checks the server ran at COMMIT, null without pg_stat_statements. */
  foreignKeyChecks: number | null;
  commits: number;
  /** pg_stat_statements entries evicted so far (server-wide): a change means calls were lost. */
  evictions: number | null;
  /** Bench statements sent before this snapshot's own query. */
  benchSent: number;
  at: number;
}

export interface DatabaseWork {
  /** Service statements, null when pg_stat_statements is not loaded. */
  roundTrips: number | null;
  /** Deferred foreign key checks, which pg_stat_statements lists as statements but no client sent. */
  foreignKeyChecks: number | null;
  commits: number;
  /** Bench statements subtracted from both. */
  benchStatements: number;
  seconds: number;
  /** pg_stat_statements evicted entries during the window: round trips are then too low. */
  statementsEvicted: boolean;
  /** The statements called most often in the window (the bench's own included), most first. */
  topStatements: Array<{ calls: number; text: string }>;
}

const TOP_STATEMENTS = 12;

/**
 * The text of PostgreSQL's own foreign key check (ri_triggers.c). pg-boss's job → queue keys are
 * DEFERRABLE INITIALLY DEFERRED: their checks run at COMMIT, outside any statement, so
 * pg_stat_statements records them as top-level statements although no client sent them.
 */
const FOREIGN_KEY_CHECK = '^SELECT \\S+ FROM (ONLY )?\\S+ x WHERE .* FOR KEY SHARE OF x$';

export class DatabaseCounters {
  private statementsLoaded = false;

  private constructor(
    private readonly db: Client,
    private readonly bench: { readonly sent: number },
  ) {}

  /** Creates pg_stat_statements in `db`'s database; round trips stay n/a when the server has not preloaded it. */
  static async open(db: Client, bench: { readonly sent: number }): Promise<DatabaseCounters> {
    const counters = new DatabaseCounters(db, bench);
    try {
      await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      // The extension installs without the library; only reading its view tells whether it is loaded.
      await db.query('SELECT 1 FROM pg_stat_statements LIMIT 1');
      counters.statementsLoaded = true;
    } catch {
      counters.statementsLoaded = false;
    }
    return counters;
  }

  get roundTripsAvailable(): boolean {
    return this.statementsLoaded;
  }

  /** One statement (so one round trip and one commit of the bench's own). */
  async snapshot(): Promise<Snapshot> {
    const benchSent = this.bench.sent;
    const statements = this.statementsLoaded
      ? `(SELECT json_agg(json_build_object('id', queryid::text, 'calls', calls, 'text', text, 'fk', fk)) FROM (
           SELECT queryid, sum(calls) AS calls, left(regexp_replace(min(query), '\\s+', ' ', 'g'), 90) AS text,
                  bool_or(query ~ '${FOREIGN_KEY_CHECK}') AS fk
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY queryid) s) AS statements,
         (SELECT dealloc FROM pg_stat_statements_info)::bigint AS evictions`
      : 'NULL::json AS statements, NULL::bigint AS evictions';
    const { rows: [row] } = await this.db.query(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::bigint AS commits, ${statements}`,
    );
    const list = row.statements as Array<{ id: string; calls: number; text: string; fk: boolean }> | null;
    const sent = (list ?? []).filter((s) => !s.fk);
    const sum = (items: Array<{ calls: number }>) => items.reduce((n, s) => n + Number(s.calls), 0);
    return {
      calls: list ? sum(sent) : null,
      foreignKeyChecks: list ? sum(list.filter((s) => s.fk)) : null,
      statements: new Map(sent.map((s) => [s.id, { calls: Number(s.calls), text: s.text }])),
      commits: Number(row.commits),
      evictions: row.evictions === null ? null : Number(row.evictions),
      benchSent,
      at: Date.now(),
    };
  }

  /**
   * The service's work between two snapshots. The bench's statements in between, the first
   * snapshot's included, are in the second snapshot's counters; the second's own are not.
   */
  static between(before: Snapshot, after: Snapshot): DatabaseWork {
    const benchStatements = after.benchSent - before.benchSent;
    return {
      roundTrips: before.calls !== null && after.calls !== null ? after.calls - before.calls - benchStatements : null,
      foreignKeyChecks: before.foreignKeyChecks !== null && after.foreignKeyChecks !== null ? after.foreignKeyChecks - before.foreignKeyChecks : null,
      commits: after.commits - before.commits - benchStatements,
      benchStatements,
      seconds: (after.at - before.at) / 1000,
      statementsEvicted: before.evictions !== null && after.evictions !== null && after.evictions > before.evictions,
      topStatements: [...after.statements]
        .map(([id, s]) => ({ calls: s.calls - (before.statements.get(id)?.calls ?? 0), text: s.text }))
        .filter((s) => s.calls > 0)
        .sort((a, b) => b.calls - a.calls)
        .slice(0, TOP_STATEMENTS),
    };
  }
}

/** Clock ticks per second of /proc's utime and stime. */
function clockTicksPerSecond(): number {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(out.stdout?.trim()) || 100;
}

/** User + system CPU ticks of a process so far (fields 14 and 15 of /proc/<pid>/stat). */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after it start with state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** User + system CPU seconds the processes have used so far (Linux /proc; null elsewhere). */
export function cpuSeconds(pids: number[]): number | null {
  try {
    return pids.reduce((sum, pid) => sum + cpuTicks(pid), 0) / clockTicksPerSecond();
  } catch {
    return null;
  }
}

export interface IdleCost {
  commitsPerSec: number;
  /** Service statements per second, null without pg_stat_statements. */
  roundTripsPerSec: number | null;
  /** CPU of the service processes together, as % of one core. */
  cpuPercentOfCore: number;
  seconds: number;
}

/**
 * What the service costs while no orders arrive: after `settleMs`, its commits per second and
 * CPU over `windowMs`, with only the two snapshots sent by the bench in between.
 */
export async function measureIdleCost(counters: DatabaseCounters, pids: number[], options = { settleMs: 15_000, windowMs: 20_000 }): Promise<IdleCost> {
  await sleep(options.settleMs);
  const ticks = () => pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const cpuBefore = { ticks: ticks(), at: Date.now() };
  const before = await counters.snapshot();
  await sleep(options.windowMs);
  const after = await counters.snapshot();
  const cpuAfter = { ticks: ticks(), at: Date.now() };
  const work = DatabaseCounters.between(before, after);
  const cpuSeconds = (cpuAfter.ticks - cpuBefore.ticks) / clockTicksPerSecond();
  const round = (v: number, digits: number) => Number(v.toFixed(digits));
  return {
    commitsPerSec: round(work.commits / work.seconds, 2),
    roundTripsPerSec: work.roundTrips === null ? null : round(work.roundTrips / work.seconds, 2),
    cpuPercentOfCore: round((cpuSeconds / ((cpuAfter.at - cpuBefore.at) / 1000)) * 100, 2),
    seconds: round(work.seconds, 1),
  };
}
