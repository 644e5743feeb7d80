import fs from 'node:fs';
import os from 'node:os';
import { Client } from 'pg';
import { startOtlpReceiver, type OtlpReceiver } from '../src/mocks/otlp-receiver';
import { cpuSeconds } from './db-work';
import { adminQuery, benchDatabase, startPaymentMockProcess, startServiceProcess, waitUntil } from './harness';
import { assertInvariants } from './invariants';
import { orderTimes, postOrders } from './orders';
import type { EndToEndRun } from './webhooks';

/**
 * `npm run bench:tracing`: end to end with OpenTelemetry tracing off and on. The same burst as the
 * main bench's end-to-end scenario (POSTs at 32 clients, then until none of the orders is pending
 * or reserved; the mock provider instant and never failing, in a process of its own unless
 * BENCH_TRACING_PROVIDER=service), each run on a fresh service process (ROLE=all, as
 * `npm run bench` starts it) and a fresh database on the same server. Tracing on means
 * OTEL_EXPORTER_OTLP_ENDPOINT points at an OTLP/HTTP sink in the bench process
 * (src/mocks/otlp-receiver.ts), http/protobuf as the SDK sends by default, and
 * OTEL_LOG_LEVEL=warn so the SDK's own warnings (dropped spans, failed exports) are printed; off
 * means no OTEL_* variable that would turn it on.
 *
 * Run order and warm-up bias a pair of runs, so the runs go off, on, on, off (then again for more
 * rounds: ABBA, which cancels a steady drift such as the server's caches warming), and each
 * figure is the median of its mode's runs. Reports completed orders/s and POST → completed
 * p50/p99 of both, their ratio (aim: on ≥ 0.90 × off), the spans the sink received (per order, per
 * second, requests and bytes), the service's CPU and the whole machine's per 1,000 orders, and
 * the service's peak RSS; checks the invariants after each run and throws if they break. Runs
 * differ by a fifth or more back to back on 2 cores (README, Performance; the same mode's service
 * CPU per order has ranged 1.5–2.4 s per 1,000 orders in one invocation): hence three rounds by
 * default, and the ratio read with the CPU per order beside it.
 *
 * The sink keeps each export's body undecoded while a run is measured, then decodes it
 * (src/mocks/otlp-receiver.ts) and tallies the spans' names. Three spans each order makes exactly
 * once (its POST, its reservation, its completion) are counted against the orders: a shortfall
 * means the SDK dropped spans (its queue holds OTEL_BSP_MAX_QUEUE_SIZE, 2,048 by default),
 * reported as SPANS LOST.
 *
 * Knobs: BENCH_TRACING_ORDERS (per run; 5,000), BENCH_TRACING_ROUNDS (each round is one run of
 * each mode; 3), BENCH_TRACING_PROTOCOL (http/protobuf or http/json), BENCH_TRACING_PROVIDER
 * (process, or service: the development mock inside the service, see DEFAULT_PROVIDER_PLACE).
 * OTEL_BSP_*, OTEL_EXPORTER_OTLP_COMPRESSION and OTEL_TRACES_SAMPLER in the bench's environment
 * reach the service (always_off measures the SDK loaded without recording spans).
 */

export const TRACING_RATIO_AIM = 0.9;

const CLIENTS = 32;
/** Charge attempts per order above which a run is said to have had retries (a few timeouts are usual under a full CPU). */
const CHARGE_RETRIES_NOTED = 1.01;
const DRAIN_TIMEOUT_MS = 180_000;
const SKUS = Array.from({ length: 50 }, (_, i) => `BENCH-TRACE-${i}`);
/** Same speed settings as npm run bench's service (bench/index.ts). */
const SERVICE_ENV = { ROLE: 'all', PAYMENT_TIMEOUT_MS: '500', PAYMENT_RETRY_DELAY_S: '1', PAYMENT_MAX_ATTEMPTS: '5' };
/** The variables that decide whether tracing is on, and where to: the bench sets them itself. */
const TRACING_SWITCHES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_TRACES_EXPORTER',
  'OTEL_SDK_DISABLED',
];

export type OtlpProtocol = 'http/protobuf' | 'http/json';
/** Where the mock payment provider runs: in the service (ROLE=all's own, as npm run bench has it) or in a process of its own. */
export type ProviderPlace = 'service' | 'process';
/**
 * Where the provider runs unless BENCH_TRACING_PROVIDER says: in a process of its own, as a real
 * provider runs on hosts of its own. In the service (ROLE=all's development mock) its server is
 * work production never does, and with tracing on every one of its requests still passes through
 * the HTTP and Express instrumentations (ignored, but wrapped): that measured the mock's tracing
 * as much as the service's.
 */
export const DEFAULT_PROVIDER_PLACE: ProviderPlace = 'process';

export interface TracingExport {
  requests: number;
  bytes: number;
  spans: number;
  /** Spans received before the last order completed (the rest came later, most at shutdown). */
  spansByLastOrder: number;
  spansPerOrder: number;
  /** Spans received from the first POST to the last order completing, per second. */
  spansPerSec: number;
  bytesPerOrder: number;
  /** Span names, most frequent first, per completed order. */
  names: Array<{ name: string; perOrder: number }>;
  /**
   * Spans made exactly once per order, received against expected: fewer means spans were lost
   * (a full BatchSpanProcessor queue drops them, and logs that only with OTEL_LOG_LEVEL set).
   */
  markers: Array<{ name: string; received: number; expected: number }>;
  lostMarkerSpans: number;
}

/** A run's throughput and POST → completed latency as the webhook bench reports them; its costs are its own (below). */
export interface TracingRun extends Omit<EndToEndRun, 'cost'> {
  tracing: boolean;
  /** 1-based position in the sequence of runs. */
  position: number;
  /** Intake: POST answers per second while the burst was sent. */
  intakeReqPerSec: number;
  intakeP99Ms: number;
  /**
   * Charge attempts per completed order: above 1, charges to the in-service mock timed out
   * (PAYMENT_TIMEOUT_MS 500 under a full CPU) and may have opened the payment circuit, whose 10 s
   * wait then dominates the run's time: such a run measures that more than tracing.
   */
  paymentAttemptsPerOrder: number;
  /** CPU of the service process (all its threads) per 1,000 completed orders; null without /proc. */
  serviceCpuSecondsPerThousandOrders: number | null;
  /** CPU of the bench process (load generator and sink). */
  benchCpuSecondsPerThousandOrders: number;
  /** Busy CPU of the whole machine (service, PostgreSQL, bench) per 1,000 orders, and as % of all cores; null without /proc/stat. */
  machineCpuSecondsPerThousandOrders: number | null;
  machineBusyPercent: number | null;
  peakRssMb: number;
  exitCode: number | null;
  export: TracingExport | null;
}

export interface ModeSummary {
  runs: number;
  ordersPerSec: number;
  ordersPerSecRange: [number, number];
  p50Ms: number;
  p99Ms: number;
  notCompleted: number;
  /** Runs where more than 1 % of the orders needed another charge attempt (see TracingRun.paymentAttemptsPerOrder). */
  runsWithChargeRetries: number;
  serviceCpuSecondsPerThousandOrders: number | null;
  benchCpuSecondsPerThousandOrders: number;
  machineCpuSecondsPerThousandOrders: number | null;
  machineBusyPercent: number | null;
  peakRssMb: number;
}

export interface TracingBenchResult {
  orders: number;
  rounds: number;
  protocol: OtlpProtocol;
  provider: ProviderPlace;
  sequence: string[];
  runs: TracingRun[];
  off: ModeSummary;
  on: ModeSummary & { export: Omit<TracingExport, 'markers'> };
  /** Median on ÷ median off, completed orders/s. */
  ratio: number;
  /** 1 − ratio, in %. */
  overheadPercent: number;
  /** Service CPU per order, median on ÷ median off. */
  serviceCpuRatio: number | null;
  /** The BatchSpanProcessor settings passed on from the bench's environment (empty: the SDK's defaults). */
  otelSettings: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// The sink, drained and counted

interface SinkCounts {
  requests: number;
  bytes: number;
  spans: number;
  names: Map<string, number>;
}

/**
 * The OTLP receiver as a sink that decodes only when counted: counts() is called before and after
 * a run's measured window, never inside it, so the bench's decoding does not compete with the
 * service for the two cores (a collector runs on a host of its own).
 */
async function startSink(): Promise<{ receiver: OtlpReceiver; counts(): SinkCounts; close(): Promise<void> }> {
  const receiver = await startOtlpReceiver(0, { decodeLater: true });
  const names = new Map<string, number>();
  return {
    receiver,
    counts: () => {
      for (const span of receiver.takeSpans()) names.set(span.name, (names.get(span.name) ?? 0) + 1);
      return { requests: receiver.stats.requests, bytes: receiver.stats.bytes, spans: receiver.stats.spans, names: new Map(names) };
    },
    close: () => receiver.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// One run

/** Busy and total jiffies of all cores (first line of /proc/stat), null elsewhere. */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - fields[3] - fields[4], total };
  } catch {
    return null;
  }
}

/** A fresh database on the server `serverUrl` names, dropped by its stop(). */
export async function freshDatabaseOn(serverUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const name = `orderloop_bench_trace_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), stop: async () => void (await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)) };
}

/** Spans each order makes exactly once (its POST's server span, its reservation, its completion). */
const MARKER_SPANS = ['POST /orders/create', 'order.reserve', 'order.complete'];

const diff = (after: SinkCounts, before: SinkCounts): SinkCounts => ({
  requests: after.requests - before.requests,
  bytes: after.bytes - before.bytes,
  spans: after.spans - before.spans,
  names: new Map([...after.names].map(([name, n]) => [name, n - (before.names.get(name) ?? 0)] as [string, number]).filter(([, n]) => n > 0)),
});

/** Span names with the run's own database name (pg spans carry it) written as <db>, so runs add up. */
function byName(names: Map<string, number>, database: string): Map<string, number> {
  const merged = new Map<string, number>();
  for (const [name, n] of names) {
    const key = name.split(database).join('<db>');
    merged.set(key, (merged.get(key) ?? 0) + n);
  }
  return merged;
}

async function oneRun(
  tracing: boolean,
  position: number,
  options: { orders: number; protocol: OtlpProtocol; provider: ProviderPlace; serverUrl: string; sink: Awaited<ReturnType<typeof startSink>> },
): Promise<TracingRun> {
  const label = `tracing ${tracing ? 'on' : 'off'} (run ${position})`;
  const database = await freshDatabaseOn(options.serverUrl);
  // runTracingBenchmark took the OTEL_* switches out of process.env: the provider process is never traced.
  const provider = options.provider === 'process' ? await startPaymentMockProcess({ PAYMENT_TIMEOUT_MS: SERVICE_ENV.PAYMENT_TIMEOUT_MS, PAYMENT_FAILURE_RATE: '0', PAYMENT_LATENCY_MS: '0' }) : null;
  const service = await startServiceProcess({
    ...SERVICE_ENV,
    DATABASE_URL: database.url,
    ...(provider ? { PAYMENT_PROVIDER_URL: provider.url } : {}),
    ...(tracing
      ? {
          OTEL_EXPORTER_OTLP_ENDPOINT: options.sink.receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: options.protocol,
          // The SDK's own warnings (a full span queue says "Dropped N spans", a failed export says so) reach the bench's output.
          OTEL_LOG_LEVEL: process.env.OTEL_LOG_LEVEL ?? 'warn',
        }
      : {}),
  });
  let stopped = false;
  const db = new Client({ connectionString: database.url });
  await db.connect();
  try {
    await db.query(
      `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold)
       SELECT s, 'Bench ' || s, 1000, 'EUR', 10000000, 0 FROM unnest($1::text[]) s`,
      [SKUS],
    );
    const pids = service.child.pid ? [service.child.pid] : [];
    const sinkBefore = options.sink.counts();
    const cpuBefore = cpuSeconds(pids);
    const machineBefore = machineTicks();
    const windowStart = Date.now();
    const benchBefore = process.cpuUsage();
    const start = new Date();

    const intake = await postOrders(service.baseUrl, options.orders, CLIENTS, SKUS);
    const drained = await waitUntil(
      async () => (await db.query(`SELECT count(*)::int AS n FROM "Orders" WHERE status IN ('pending', 'reserved') AND created_at >= $1`, [start])).rows[0].n === 0,
      DRAIN_TIMEOUT_MS,
      250,
    );
    if (!drained) throw new Error(`${label}: orders still open ${DRAIN_TIMEOUT_MS / 1000} s after the burst of ${options.orders}`);

    const cpuAfter = cpuSeconds(pids);
    const machineAfter = machineTicks();
    const windowSeconds = (Date.now() - windowStart) / 1000;
    const bench = process.cpuUsage(benchBefore);
    const sinkAtDrain = options.sink.counts();
    const times = await orderTimes(db, start);
    const { rows: [done] } = await db.query(
      `SELECT count(*)::int AS n, coalesce(avg(payment_attempts), 0)::float AS attempts FROM "Orders" WHERE status = 'completed' AND created_at >= $1`,
      [start],
    );
    const completed = Number(done.n);
    const seconds = ((times.lastDoneAt?.getTime() ?? Date.now()) - start.getTime()) / 1000;
    await assertInvariants(db, label);

    // Stopping the service exports what its span processors still hold (main.ts and each job thread).
    const exitCode = await service.stop();
    stopped = true;
    if (exitCode !== 0) throw new Error(`${label}: the service exited with ${exitCode} when stopped`);
    const exported = diff(options.sink.counts(), sinkBefore);
    const byLastOrder = diff(sinkAtDrain, sinkBefore);
    if (!tracing && exported.requests > 0) throw new Error(`${label}: the sink received ${exported.requests} requests from a service with tracing off`);
    // A sampler from the bench's environment (OTEL_TRACES_SAMPLER=always_off measures the SDK without spans) may leave out spans on purpose.
    const samplerSet = Boolean(process.env.OTEL_TRACES_SAMPLER);
    if (tracing && !samplerSet && exported.spans === 0) throw new Error(`${label}: the sink received no spans (${exported.requests} requests)`);

    const names = byName(exported.names, new URL(database.url).pathname.slice(1));
    const markers = MARKER_SPANS.map((name) => ({ name, received: names.get(name) ?? 0, expected: name.startsWith('POST') ? options.orders : completed }));
    const lostMarkerSpans = markers.reduce((sum, m) => sum + Math.max(0, m.expected - m.received), 0);
    if (tracing && !samplerSet && lostMarkerSpans > 0) {
      console.error(`\nSPANS LOST in ${label}: ${markers.map((m) => `${m.name} ${m.received} of ${m.expected}`).join(', ')} (a full span queue drops them: OTEL_BSP_MAX_QUEUE_SIZE)`);
    }
    const perThousand = (cpu: number) => Number(((cpu * 1000) / completed).toFixed(1));
    const machine = machineBefore && machineAfter ? { busy: machineAfter.busy - machineBefore.busy, total: machineAfter.total - machineBefore.total } : null;
    return {
      tracing,
      position,
      orders: options.orders,
      completed,
      ordersPerSec: Math.round(completed / seconds),
      seconds: Number(seconds.toFixed(2)),
      p50Ms: times.p50Ms,
      p99Ms: times.p99Ms,
      intakeReqPerSec: intake.reqPerSec,
      intakeP99Ms: intake.p99Ms,
      paymentAttemptsPerOrder: Number(Number(done.attempts).toFixed(3)),
      serviceCpuSecondsPerThousandOrders: cpuBefore !== null && cpuAfter !== null ? perThousand(cpuAfter - cpuBefore) : null,
      benchCpuSecondsPerThousandOrders: perThousand((bench.user + bench.system) / 1e6),
      // Jiffies → seconds without CLK_TCK: the busy share of all cores over the wall time between the readings.
      machineCpuSecondsPerThousandOrders: machine && machine.total > 0 ? perThousand((machine.busy / machine.total) * os.cpus().length * windowSeconds) : null,
      machineBusyPercent: machine && machine.total > 0 ? Number(((machine.busy / machine.total) * 100).toFixed(1)) : null,
      peakRssMb: service.peakRssMb(),
      exitCode,
      export: tracing
        ? {
            requests: exported.requests,
            bytes: exported.bytes,
            spans: exported.spans,
            spansByLastOrder: byLastOrder.spans,
            spansPerOrder: Number((exported.spans / completed).toFixed(2)),
            spansPerSec: Math.round(byLastOrder.spans / seconds),
            bytesPerOrder: Math.round(exported.bytes / completed),
            names: [...names].sort((a, b) => b[1] - a[1]).map(([name, n]) => ({ name, perOrder: Number((n / completed).toFixed(2)) })),
            markers,
            lostMarkerSpans: samplerSet ? 0 : lostMarkerSpans,
          }
        : null,
    };
  } finally {
    await db.end().catch(() => undefined);
    if (!stopped) await service.stop();
    await provider?.stop();
    await database.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The sequence and its summary

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const medianOrNull = (values: Array<number | null>) => (values.some((v) => v === null) ? null : Number(median(values as number[]).toFixed(1)));

function summarise(runs: TracingRun[]): ModeSummary {
  const rates = runs.map((r) => r.ordersPerSec);
  return {
    runs: runs.length,
    ordersPerSec: Math.round(median(rates)),
    ordersPerSecRange: [Math.min(...rates), Math.max(...rates)],
    p50Ms: Math.round(median(runs.map((r) => r.p50Ms))),
    p99Ms: Math.round(median(runs.map((r) => r.p99Ms))),
    notCompleted: runs.reduce((sum, r) => sum + r.orders - r.completed, 0),
    runsWithChargeRetries: runs.filter((r) => r.paymentAttemptsPerOrder > CHARGE_RETRIES_NOTED).length,
    serviceCpuSecondsPerThousandOrders: medianOrNull(runs.map((r) => r.serviceCpuSecondsPerThousandOrders)),
    benchCpuSecondsPerThousandOrders: Number(median(runs.map((r) => r.benchCpuSecondsPerThousandOrders)).toFixed(1)),
    machineCpuSecondsPerThousandOrders: medianOrNull(runs.map((r) => r.machineCpuSecondsPerThousandOrders)),
    machineBusyPercent: medianOrNull(runs.map((r) => r.machineBusyPercent)),
    peakRssMb: Math.round(median(runs.map((r) => r.peakRssMb))),
  };
}

/** off, on, on, off, off, on, …: `rounds` runs of each mode, in ABBA order. */
export function tracingSequence(rounds: number): boolean[] {
  return Array.from({ length: rounds }, (_, i) => (i % 2 === 0 ? [false, true] : [true, false])).flat();
}

/**
 * `rounds` runs with tracing off and as many with it on (ABBA order), `orders` each, every run on
 * its own service process and its own database on the server `serverUrl` names (a URL of any
 * database there the bench may CREATE DATABASE from). Throws if any run breaks the invariants.
 */
export async function runTracingBenchmark(options: {
  orders: number;
  rounds: number;
  serverUrl: string;
  protocol?: OtlpProtocol;
  provider?: ProviderPlace;
  log?: (line: string) => void;
}): Promise<TracingBenchResult> {
  const protocol = options.protocol ?? 'http/protobuf';
  const provider = options.provider ?? DEFAULT_PROVIDER_PLACE;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Whatever the bench's own environment says about tracing must not reach the runs with it off.
  const saved = Object.fromEntries(TRACING_SWITCHES.map((name) => [name, process.env[name]]));
  for (const name of TRACING_SWITCHES) delete process.env[name];
  const otelSettings = Object.fromEntries(Object.entries(process.env).filter(([name]) => /^OTEL_(BSP_|TRACES_SAMPLER|EXPORTER_OTLP_(TRACES_)?(COMPRESSION|TIMEOUT))/.test(name)) as Array<[string, string]>);
  const sink = await startSink();
  const runs: TracingRun[] = [];
  try {
    const sequence = tracingSequence(options.rounds);
    for (const [i, tracing] of sequence.entries()) {
      const run = await oneRun(tracing, i + 1, { orders: options.orders, protocol, provider, serverUrl: options.serverUrl, sink });
      runs.push(run);
      const spans = run.export ? `; ${run.export.spansPerOrder} spans/order (${run.export.spans} in ${run.export.requests} requests, ${run.export.spansByLastOrder} by the last order; ${run.export.lostMarkerSpans} once-per-order spans lost)` : '';
      log(
        `  run ${i + 1}/${sequence.length} tracing ${tracing ? 'on ' : 'off'}: ${run.ordersPerSec} orders/s (${run.completed}/${run.orders} in ${run.seconds} s), ` +
          `p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms; ${run.paymentAttemptsPerOrder} charge attempts per order; intake ${run.intakeReqPerSec} req/s (p99 ${run.intakeP99Ms} ms); CPU s per 1,000 orders: ` +
          `service ${run.serviceCpuSecondsPerThousandOrders ?? 'n/a'}, bench ${run.benchCpuSecondsPerThousandOrders}, machine ${run.machineCpuSecondsPerThousandOrders ?? 'n/a'} ` +
          `(${run.machineBusyPercent ?? 'n/a'} % busy); peak RSS ${run.peakRssMb} MB${spans}`,
      );
    }
  } finally {
    await sink.close();
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
  }

  const offRuns = runs.filter((r) => !r.tracing);
  const onRuns = runs.filter((r) => r.tracing);
  const off = summarise(offRuns);
  const onSummary = summarise(onRuns);
  const exports = onRuns.map((r) => r.export!);
  const names = new Map<string, number[]>();
  for (const e of exports) for (const n of e.names) names.set(n.name, [...(names.get(n.name) ?? []), n.perOrder]);
  const ratio = Number((onSummary.ordersPerSec / off.ordersPerSec).toFixed(3));
  return {
    orders: options.orders,
    rounds: options.rounds,
    protocol,
    provider,
    sequence: runs.map((r) => (r.tracing ? 'on' : 'off')),
    runs,
    off,
    on: {
      ...onSummary,
      export: {
        requests: Math.round(median(exports.map((e) => e.requests))),
        bytes: Math.round(median(exports.map((e) => e.bytes))),
        spans: Math.round(median(exports.map((e) => e.spans))),
        spansByLastOrder: Math.round(median(exports.map((e) => e.spansByLastOrder))),
        spansPerOrder: Number(median(exports.map((e) => e.spansPerOrder)).toFixed(2)),
        spansPerSec: Math.round(median(exports.map((e) => e.spansPerSec))),
        bytesPerOrder: Math.round(median(exports.map((e) => e.bytesPerOrder))),
        lostMarkerSpans: exports.reduce((sum, e) => sum + e.lostMarkerSpans, 0),
        names: [...names]
          .map(([name, perOrder]) => ({ name, perOrder: Number((perOrder.reduce((a, b) => a + b, 0) / exports.length).toFixed(2)) }))
          .sort((a, b) => b.perOrder - a.perOrder),
      },
    },
    ratio,
    overheadPercent: Number(((1 - ratio) * 100).toFixed(1)),
    serviceCpuRatio:
      onSummary.serviceCpuSecondsPerThousandOrders !== null && off.serviceCpuSecondsPerThousandOrders
        ? Number((onSummary.serviceCpuSecondsPerThousandOrders / off.serviceCpuSecondsPerThousandOrders).toFixed(3))
        : null,
    otelSettings,
  };
}

/** The rows bench/index.ts prints for it. */
export function tracingRows(r: TracingBenchResult, ratioToPgbench: (v: number) => number | null = () => null) {
  const orders = r.orders.toLocaleString('en');
  const range = (m: ModeSummary) => `${m.runs} runs ${m.ordersPerSecRange[0]}–${m.ordersPerSecRange[1]}`;
  const cost = (m: ModeSummary) =>
    [
      `${range(m)}`,
      m.runsWithChargeRetries ? `${m.runsWithChargeRetries} with > 1 % charges retried (timeouts under load)` : null,
      m.serviceCpuSecondsPerThousandOrders === null ? null : `service CPU ${m.serviceCpuSecondsPerThousandOrders} s per 1,000 orders`,
      `bench process ${m.benchCpuSecondsPerThousandOrders} s`,
      m.machineCpuSecondsPerThousandOrders === null ? null : `whole machine ${m.machineCpuSecondsPerThousandOrders} s (${m.machineBusyPercent} % busy)`,
      `peak RSS ${m.peakRssMb} MB`,
    ].filter(Boolean).join(', ');
  const where = r.provider === 'process' ? '; provider in its own process' : '';
  const settings = Object.entries(r.otelSettings).map(([k, v]) => `${k}=${v}`).join(' ');
  return {
    [`end to end, tracing off (${orders} orders, median${where})`]: {
      value: r.off.ordersPerSec,
      'ratio to pgbench': ratioToPgbench(r.off.ordersPerSec),
      p50Ms: r.off.p50Ms,
      p99Ms: r.off.p99Ms,
      errors: r.off.notCompleted,
      detail: cost(r.off),
    },
    [`end to end, tracing on, OTLP ${r.protocol} to a local sink (${orders} orders, median${where})`]: {
      value: r.on.ordersPerSec,
      'ratio to pgbench': ratioToPgbench(r.on.ordersPerSec),
      p50Ms: r.on.p50Ms,
      p99Ms: r.on.p99Ms,
      errors: r.on.notCompleted,
      detail: cost(r.on),
    },
    'tracing: end to end on ÷ off': {
      value: r.ratio,
      aim: `tracing on ≥ ${TRACING_RATIO_AIM.toFixed(2)} × off`,
      detail: `overhead ${r.overheadPercent} %; service CPU per order on ÷ off ${r.serviceCpuRatio ?? 'n/a'}; runs ${r.sequence.join(', ')}`,
    },
    'tracing: spans exported per order': {
      value: r.on.export.spansPerOrder,
      detail:
        `${r.on.export.spansPerSec.toLocaleString('en')} spans/s, ${r.on.export.bytesPerOrder.toLocaleString('en')} bytes per order, ${r.on.export.requests} requests per run; ` +
        `${r.on.export.lostMarkerSpans ? `SPANS LOST: ${r.on.export.lostMarkerSpans} once-per-order spans missing` : 'no span lost'}${settings ? `; ${settings}` : ''}`,
    },
  };
}

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} takes a positive whole number`);
  return value;
}

export function tracingProvider(): ProviderPlace {
  const place = process.env.BENCH_TRACING_PROVIDER ?? DEFAULT_PROVIDER_PLACE;
  if (place !== 'service' && place !== 'process') throw new Error('BENCH_TRACING_PROVIDER is service or process');
  return place;
}

export function tracingProtocol(): OtlpProtocol {
  const protocol = process.env.BENCH_TRACING_PROTOCOL ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') throw new Error('BENCH_TRACING_PROTOCOL is http/protobuf or http/json');
  return protocol;
}

/** BENCH_TRACING_ORDERS and BENCH_TRACING_ROUNDS, or the given defaults. */
export function tracingSettings(defaults: { orders: number; rounds: number }): { orders: number; rounds: number; protocol: OtlpProtocol; provider: ProviderPlace } {
  return {
    orders: envNumber('BENCH_TRACING_ORDERS', defaults.orders),
    rounds: envNumber('BENCH_TRACING_ROUNDS', defaults.rounds),
    protocol: tracingProtocol(),
    provider: tracingProvider(),
  };
}

/** Alone: 5,000 orders a run (10–17 s at this machine's 300–600 orders/s), three rounds. */
async function main(): Promise<void> {
  const settings = tracingSettings({ orders: 5000, rounds: 3 });
  // A database on DATABASE_URL's server (or an embedded server) only to learn the server; each run makes its own.
  const base = await benchDatabase();
  try {
    process.stdout.write(
      `tracing: end to end, ${settings.orders.toLocaleString('en')} orders per run, runs ${tracingSequence(settings.rounds).map((on) => (on ? 'on' : 'off')).join(', ')}, ` +
        `OTLP ${settings.protocol}, payment provider ${settings.provider === 'process' ? 'in a process of its own' : 'in the service'} …\n`,
    );
    const result = await runTracingBenchmark({ ...settings, serverUrl: base.url });
    console.log(`\norderloop tracing benchmark (${os.cpus().length} cores, Node ${process.version})`);
    console.table(tracingRows(result));
    console.log('\nspans per completed order by name (tracing on, mean of its runs):');
    for (const n of result.on.export.names.slice(0, 20)) console.log(`  ${n.perOrder.toFixed(2).padStart(6)}  ${n.name}`);
    console.log(`\n${JSON.stringify({ ratio: result.ratio, overheadPercent: result.overheadPercent, serviceCpuRatio: result.serviceCpuRatio, off: result.off, on: { ...result.on, export: { ...result.on.export, names: undefined } } })}`);
  } finally {
    await base.stop();
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
