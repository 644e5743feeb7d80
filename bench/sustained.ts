import http from 'node:http';
import { Client } from 'pg';
import { inspectJobs, type QueueInspector } from '../src/queue/inspect';
import { QUEUES } from '../src/queue/queues';
import { adminToken, benchDatabase, startPaymentMockProcess, startServiceProcess, waitUntil, type ServiceProcess } from './harness';
import { assertInvariants } from './invariants';

/**
 * `npm run bench:sustained [-- --rate N --seconds N]`: orders arrive at a fixed rate for minutes
 * while the payment provider behaves like a real one (300 ms per charge, 20 % faults: half 503s,
 * half hangs past the 3 s timeout). Shows whether the service keeps up, how far its oldest
 * waiting job falls behind, and what each order costs in payment attempts. `npm run bench` runs it
 * at 0.8 × the end-to-end rate it measured; alone it runs at 100/s for 300 s on a fresh database.
 */

export const SUSTAINED_DEFAULTS = { ratePerSec: 100, seconds: 300 };

const PAYMENT_ENV = { PAYMENT_TIMEOUT_MS: '3000', PAYMENT_RETRY_DELAY_S: '1', PAYMENT_MAX_ATTEMPTS: '5' };
const PROVIDER = { latencyMs: 300, failureRate: 0.2, hangMs: 3500 };
/** Orders spread over a shop's worth of products, as in the end-to-end scenario (a hot SKU has its own scenario). */
const SKUS = Array.from({ length: 50 }, (_, i) => `BENCH-SUSTAINED-${i}`);
const SAMPLE_EVERY_MS = 10_000;
const DRAIN_TIMEOUT_MS = 600_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** Sockets the sender may open; past them requests wait in the client, and that wait counts in their latency. */
const MAX_SOCKETS = 256;
const BACKLOG_METRIC = 'orderloop_queue_backlog_age_seconds';
const ORDER_QUEUES = [QUEUES.ORDER_RESERVE, QUEUES.ORDER_CHARGE];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface BacklogSample {
  /** Seconds since the first POST. */
  atSec: number;
  completed: number;
  /** Orders still pending or reserved. */
  open: number;
  /** Age of the oldest ready order job, seconds. */
  backlogAgeSec: number;
  backlogSource: 'metric' | 'pgboss';
}

export interface SustainedResult {
  settings: { targetRatePerSec: number; seconds: number; provider: typeof PROVIDER; payment: typeof PAYMENT_ENV };
  arrivals: { sent: number; perSec: number; accepted: number };
  intake: { p50Ms: number; p99Ms: number; errors: number; timeouts: number; non2xxOther: number; shed503: number; statusCounts: Record<string, number> };
  completed: number;
  completedWhileSending: number;
  completedPerSecWhileSending: number;
  completedPerSecOverall: number;
  /** Completed while sending ÷ accepted while sending: 1 when completions keep pace with arrivals. */
  keepUp: number;
  drained: boolean;
  drainSeconds: number;
  orderP50Ms: number;
  orderP99Ms: number;
  attemptsPerOrder: number;
  failedByReason: Record<string, number>;
  cancelled: number;
  samples: BacklogSample[];
  maxBacklogAgeSec: number;
  maxOpenOrders: number;
  peakRssMb: number;
}

interface ArrivalOutcome {
  sent: number;
  seconds: number;
  latenciesMs: number[];
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
}

/**
 * Open-loop arrivals: POST n is due at n / rate seconds whatever the answers to earlier ones, so a
 * slow service meets the same arrival rate (autocannon's overallRate lets each connection send its
 * share back to back at the start of every second and waits for answers, which hides a backlog).
 * Latency counts from the moment a request was due.
 */
async function sendAtFixedRate(baseUrl: string, ratePerSec: number, seconds: number): Promise<ArrivalOutcome> {
  const token = await adminToken();
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const url = new URL('/orders/create', baseUrl);
  const outcome: ArrivalOutcome = { sent: 0, seconds: 0, latenciesMs: [], statusCounts: {}, errors: 0, timeouts: 0 };
  const inFlight = new Set<Promise<void>>();

  const post = (n: number, dueAt: number) =>
    new Promise<void>((resolve) => {
      let timedOut = false;
      const body = JSON.stringify({ customerId: `sustained_${n % 1000}`, items: [{ sku: SKUS[n % SKUS.length], quantity: 1 }] });
      const req = http.request(
        url,
        {
          method: 'POST',
          agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            outcome.latenciesMs.push(performance.now() - dueAt);
            const status = String(res.statusCode);
            outcome.statusCounts[status] = (outcome.statusCounts[status] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('timeout', () => {
        timedOut = true;
        req.destroy();
      });
      req.on('error', () => {
        if (timedOut) outcome.timeouts += 1;
        else outcome.errors += 1;
        resolve();
      });
      req.end(body);
    });

  const total = Math.round(ratePerSec * seconds);
  const started = performance.now();
  for (let n = 0; n < total; n += 1) {
    const dueAt = started + (n * 1000) / ratePerSec;
    const wait = dueAt - performance.now();
    if (wait >= 1) await sleep(wait);
    const request = post(n, dueAt);
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
    outcome.sent += 1;
  }
  outcome.seconds = (performance.now() - started) / 1000;
  await Promise.all(inFlight);
  agent.destroy();
  return outcome;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

/**
 * The oldest ready order job's age: the service's own gauge (max over its queues) when it has one,
 * otherwise read from pg-boss's job table.
 */
async function backlogAge(jobs: QueueInspector, service: ServiceProcess, token: string): Promise<{ seconds: number; source: 'metric' | 'pgboss' }> {
  try {
    const res = await fetch(`${service.baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    if (res.ok) {
      const text = await res.text();
      const values = [...text.matchAll(new RegExp(`^${BACKLOG_METRIC}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'gm'))].map((m) => Number(m[1])).filter(Number.isFinite);
      if (values.length) return { seconds: Math.max(...values), source: 'metric' };
    }
  } catch {
    // no answer from /metrics: read the table instead
  }
  const ages = await jobs.readyBacklogAges(ORDER_QUEUES);
  return { seconds: Math.max(0, ...ages.map((a) => a.ageSeconds)), source: 'pgboss' };
}

export function formatSample(s: BacklogSample): string {
  return `${String(s.atSec).padStart(5)} s  ${String(s.completed).padStart(7)} completed  ${String(s.open).padStart(6)} open  oldest job ${s.backlogAgeSec.toFixed(1)} s (${s.backlogSource})`;
}

/** Starts its own service (ROLE=all) and provider with realistic payment settings on `databaseUrl`, sends, waits for every order to end, and stops them. */
export async function runSustained(options: { databaseUrl: string; ratePerSec: number; seconds: number }): Promise<SustainedResult> {
  const { databaseUrl, ratePerSec, seconds } = options;
  // Faults come from PROVIDER (set below): no declines or lost responses, as in the service's own mock.
  const provider = await startPaymentMockProcess({ ...PAYMENT_ENV, PAYMENT_FAILURE_RATE: '0' });
  const service = await startServiceProcess({ ...PAYMENT_ENV, DATABASE_URL: databaseUrl, ROLE: 'all', PAYMENT_PROVIDER_URL: provider.url });
  const db = new Client({ connectionString: databaseUrl });
  const jobs = inspectJobs(db);
  try {
    await db.connect();
    const configured = await fetch(`${provider.url}/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(PROVIDER) });
    if (!configured.ok) throw new Error(`payment mock refused its settings: ${configured.status} ${await configured.text()}`);
    await db.query(
      `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold)
       SELECT s, 'Sustained ' || s, 900, 'EUR', 1000000000, 0 FROM unnest($1::text[]) s`,
      [SKUS],
    );
    const token = await adminToken();
    const ordersSince = `FROM "Orders" WHERE created_at >= $1`;
    const start = new Date();

    const samples: BacklogSample[] = [];
    const takeSample = async () => {
      const { rows: [c] } = await db.query(
        `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status IN ('pending', 'reserved'))::int AS open ${ordersSince}`,
        [start],
      );
      const backlog = await backlogAge(jobs, service, token);
      const sample = { atSec: Math.round((Date.now() - start.getTime()) / 1000), completed: c.completed, open: c.open, backlogAgeSec: Number(backlog.seconds.toFixed(1)), backlogSource: backlog.source };
      samples.push(sample);
      process.stdout.write(`  ${formatSample(sample)}\n`);
    };
    // One sample at a time: a slow one skips a tick rather than piling up.
    let sampling: Promise<void> | null = null;
    const sampler = setInterval(() => {
      sampling ??= takeSample()
        .catch((e) => {
          process.stderr.write(`  sample failed: ${(e as Error).message}\n`);
        })
        .finally(() => {
          sampling = null;
        });
    }, SAMPLE_EVERY_MS);

    let arrivals: ArrivalOutcome;
    let sendEnd: Date;
    let drained: boolean;
    try {
      arrivals = await sendAtFixedRate(service.baseUrl, ratePerSec, seconds);
      sendEnd = new Date();
      drained = await waitUntil(async () => {
        if (service.child.exitCode !== null) throw new Error(`service exited with ${service.child.exitCode} during the sustained scenario`);
        const { rows: [r] } = await db.query(`SELECT count(*)::int AS n ${ordersSince} AND status IN ('pending', 'reserved')`, [start]);
        // A charge that landed after its order closed is refunded by a job of its own: the money
        // invariants hold once those refunds are settled too, not the moment the last order ends.
        const { rows: [refunds] } = await db.query(`SELECT count(*)::int AS n FROM "Refunds" WHERE status = 'requested'`);
        return r.n === 0 && refunds.n === 0;
      }, DRAIN_TIMEOUT_MS, 1000);
    } finally {
      clearInterval(sampler);
      await sampling;
    }
    await takeSample();

    const { rows: [r] } = await db.query(
      `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'completed' AND updated_at <= $2)::int AS completed_while_sending,
              count(*) FILTER (WHERE created_at <= $2)::int AS accepted_while_sending,
              count(*)::int AS accepted,
              count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
              COALESCE(avg(payment_attempts), 0)::float AS attempts,
              extract(epoch FROM max(updated_at) FILTER (WHERE status = 'completed') - $1::timestamptz)::float AS completed_seconds,
              extract(epoch FROM max(updated_at) - $2::timestamptz)::float AS drain_seconds,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)) FILTER (WHERE status = 'completed') * 1000 AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)) FILTER (WHERE status = 'completed') * 1000 AS p99
       ${ordersSince}`,
      [start, sendEnd],
    );
    const { rows: failures } = await db.query(`SELECT failure_reason AS reason, count(*)::int AS n ${ordersSince} AND status = 'failed' GROUP BY 1 ORDER BY 2 DESC`, [start]);

    const latencies = arrivals.latenciesMs.sort((a, b) => a - b);
    const count = (status: string) => arrivals.statusCounts[status] ?? 0;
    const twoXx = Object.entries(arrivals.statusCounts).reduce((n, [status, k]) => (status.startsWith('2') ? n + k : n), 0);
    const answered = Object.values(arrivals.statusCounts).reduce((a, b) => a + b, 0);
    const round = (v: number, digits = 1) => Number(v.toFixed(digits));
    return {
      settings: { targetRatePerSec: ratePerSec, seconds, provider: PROVIDER, payment: PAYMENT_ENV },
      arrivals: { sent: arrivals.sent, perSec: round(arrivals.sent / arrivals.seconds), accepted: r.accepted },
      intake: {
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        errors: arrivals.errors,
        timeouts: arrivals.timeouts,
        non2xxOther: answered - twoXx - count('503'),
        shed503: count('503'),
        statusCounts: arrivals.statusCounts,
      },
      completed: r.completed,
      completedWhileSending: r.completed_while_sending,
      completedPerSecWhileSending: round(r.completed_while_sending / ((sendEnd.getTime() - start.getTime()) / 1000)),
      completedPerSecOverall: r.completed_seconds ? round(r.completed / r.completed_seconds) : 0,
      keepUp: r.accepted_while_sending ? round(r.completed_while_sending / r.accepted_while_sending, 3) : 0,
      drained,
      drainSeconds: round(Math.max(0, Number(r.drain_seconds ?? 0))),
      orderP50Ms: Math.round(Number(r.p50 ?? 0)),
      orderP99Ms: Math.round(Number(r.p99 ?? 0)),
      attemptsPerOrder: round(r.attempts, 2),
      failedByReason: Object.fromEntries(failures.map((f) => [f.reason ?? 'none', f.n])),
      cancelled: r.cancelled,
      samples,
      maxBacklogAgeSec: Math.max(0, ...samples.map((s) => s.backlogAgeSec)),
      maxOpenOrders: Math.max(0, ...samples.map((s) => s.open)),
      peakRssMb: service.peakRssMb(),
    };
  } finally {
    await db.end().catch(() => undefined);
    await service.stop();
    await provider.stop();
  }
}

/** The sustained rows of the bench table; `endToEnd` is the zero-latency end-to-end orders/s of the same run. */
export function sustainedRows(s: SustainedResult, yardsticks: { pgbench: number | null; endToEnd: number | null }) {
  const ratio = (v: number, to: number | null) => (to && v ? Number((v / to).toFixed(3)) : null);
  const failed = Object.entries(s.failedByReason).map(([reason, n]) => `${reason} ${n}`).join(', ') || 'none';
  const { provider } = s.settings;
  return {
    [`sustained arrivals/s (${s.settings.seconds} s; provider ${provider.latencyMs} ms, ${provider.failureRate * 100} % faults)`]: {
      value: s.arrivals.perSec,
      'ratio to pgbench': ratio(s.arrivals.perSec, yardsticks.pgbench),
      p50Ms: s.intake.p50Ms,
      p99Ms: s.intake.p99Ms,
      errors: s.intake.errors + s.intake.timeouts + s.intake.non2xxOther,
      detail: `target ${s.settings.targetRatePerSec}/s, ${s.arrivals.sent} sent, ${s.intake.shed503} shed (503)`,
    },
    'sustained completed orders/s while sending': {
      value: s.completedPerSecWhileSending,
      'ratio to pgbench': ratio(s.completedPerSecWhileSending, yardsticks.pgbench),
      'ratio to end to end': ratio(s.completedPerSecWhileSending, yardsticks.endToEnd),
      completed: s.completedWhileSending,
      detail: `${s.keepUp} of the accepted orders completed before sending ended`,
      aim: '≥ 0.8 × end to end',
    },
    'sustained completed orders/s overall (POST → completed p50/p99)': {
      value: s.completedPerSecOverall,
      'ratio to pgbench': ratio(s.completedPerSecOverall, yardsticks.pgbench),
      p50Ms: s.orderP50Ms,
      p99Ms: s.orderP99Ms,
      completed: s.completed,
    },
    'sustained payment attempts per order': { value: s.attemptsPerOrder, detail: `failed: ${failed}; cancelled ${s.cancelled}` },
    'sustained max backlog age s': {
      value: s.maxBacklogAgeSec,
      detail: `max ${s.maxOpenOrders} open orders; ${s.drained ? `all ended ${s.drainSeconds} s after sending` : 'NOT all ended within 10 min'}`,
    },
    'sustained peak RSS MB': { value: s.peakRssMb, aim: '≤ 250' },
  };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export function sustainedSeconds(): number {
  return Number(argValue('--seconds') ?? process.env.BENCH_SUSTAINED_S ?? SUSTAINED_DEFAULTS.seconds);
}

async function main(): Promise<void> {
  const ratePerSec = Number(argValue('--rate') ?? SUSTAINED_DEFAULTS.ratePerSec);
  const seconds = sustainedSeconds();
  if (!(ratePerSec > 0) || !(seconds > 0)) throw new Error('--rate and --seconds must be positive numbers');
  const database = await benchDatabase();
  const db = new Client({ connectionString: database.url });
  try {
    process.stdout.write(`sustained: ${ratePerSec} orders/s for ${seconds} s, provider ${PROVIDER.latencyMs} ms with ${PROVIDER.failureRate * 100} % faults …\n`);
    const result = await runSustained({ databaseUrl: database.url, ratePerSec, seconds });
    await db.connect();
    await assertInvariants(db, 'sustained');
    console.log('\norderloop sustained benchmark (ratio to end to end: run `npm run bench`, which measures both)');
    console.table(sustainedRows(result, { pgbench: null, endToEnd: null }));
    console.log(`intake answers: ${JSON.stringify(result.intake.statusCounts)}`);
    console.log('backlog every 10 s (seconds since the first POST):');
    for (const s of result.samples) console.log(`  ${formatSample(s)}`);
  } finally {
    await db.end().catch(() => undefined);
    await database.stop();
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(`bench failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  });
}
