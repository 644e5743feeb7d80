import { Client } from 'pg';
import { startWebhookReceiver } from '../src/mocks/webhook-receiver';
import { countStatements, cpuSeconds, DatabaseCounters, STATS_FLUSH_DELAY_MS } from './db-work';
import { adminToken, benchDatabase, startServiceProcess, waitUntil } from './harness';
import { assertInvariants } from './invariants';
import { orderTimes, postOrders } from './orders';

/**
 * End to end with and without a webhook endpoint, in one run on one service: the same burst of
 * orders (POSTs at 32 clients, then wait until none is pending or reserved) first with no endpoint,
 * then with one endpoint subscribed to every event whose receiver (src/mocks/webhook-receiver.ts)
 * runs in the bench process and checks each signature. Reports completed orders/s for both and
 * their ratio (the aim: with ≥ 0.80 × without), deliveries per second, and the time from the last
 * order completing to the last delivery; then checks that every event of the run's orders (and any
 * inventory event) reached the receiver, once each counted by event id, and throws otherwise.
 */

export const WEBHOOK_RATIO_AIM = 0.8;

const DELIVERY_TIMEOUT_MS = 300_000;

export interface EndToEndRun {
  orders: number;
  completed: number;
  ordersPerSec: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  cost: RunCost;
}

/** What a run cost the service, from its first POST until its work was done (deliveries included). */
export interface RunCost {
  /** CPU of the service processes, null where /proc is not there. */
  cpuSecondsPerThousandOrders: number | null;
  /** CPU of the bench process: the load generator, and in the run with an endpoint its receiver. */
  benchCpuSecondsPerThousandOrders: number;
  /** From pg_stat_statements (null without it) and pg_stat_database; null without counters. */
  roundTripsPerOrder: number | null;
  commitsPerOrder: number | null;
  /** The statements called most often, per completed order. */
  topStatements: Array<{ perOrder: number; text: string }>;
}

interface CostMeter {
  counters?: DatabaseCounters;
  servicePids: number[];
}

/** Starts measuring; the function it returns ends the measure (waiting for the server's counters to be published). */
async function meterCost(meter: CostMeter): Promise<(completed: number) => Promise<RunCost>> {
  const cpuBefore = cpuSeconds(meter.servicePids);
  const benchBefore = process.cpuUsage();
  const before = await meter.counters?.snapshot();
  return async (completed) => {
    const cpuAfter = cpuSeconds(meter.servicePids);
    const bench = process.cpuUsage(benchBefore);
    const perOrder = (v: number) => Number((v / completed).toFixed(2));
    const cost: RunCost = {
      cpuSecondsPerThousandOrders: cpuBefore !== null && cpuAfter !== null ? Number((((cpuAfter - cpuBefore) * 1000) / completed).toFixed(1)) : null,
      benchCpuSecondsPerThousandOrders: Number((((bench.user + bench.system) / 1e6) * 1000 / completed).toFixed(1)),
      roundTripsPerOrder: null,
      commitsPerOrder: null,
      topStatements: [],
    };
    if (meter.counters && before) {
      await new Promise((r) => setTimeout(r, STATS_FLUSH_DELAY_MS));
      const work = DatabaseCounters.between(before, await meter.counters.snapshot());
      cost.roundTripsPerOrder = work.roundTrips === null || work.statementsEvicted ? null : perOrder(work.roundTrips);
      cost.commitsPerOrder = perOrder(work.commits);
      cost.topStatements = work.topStatements.slice(0, 8).map((st) => ({ perOrder: perOrder(st.calls), text: st.text }));
    }
    return cost;
  };
}

export interface WebhookBenchResult {
  orders: number;
  without: EndToEndRun;
  with: EndToEndRun;
  /** with.ordersPerSec ÷ without.ordersPerSec */
  ratio: number;
  events: number;
  /** POSTs the receiver accepted (redeliveries included) and distinct event ids among them. */
  deliveries: number;
  uniqueEvents: number;
  /** Accepted deliveries per second, from the run's first POST to the last delivery. */
  deliveriesPerSec: number;
  /** From the last order of the run completing to the last delivery reaching the receiver. */
  lastDeliveryAfterLastOrderSec: number;
  /** From the run's first POST to the last delivery. */
  deliveriesSeconds: number;
  receiverStats: { attempts: number; accepted: number; refused: number; dropped: number };
  endpointDeliveries: { pending: number; delivered: number; failed: number } | null;
}

async function count(db: Client, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query(sql, params);
  return Number(rows[0].n);
}

/** One burst: `orders` POSTs at 32 clients, then until none of them is pending or reserved. */
async function endToEnd(db: Client, baseUrl: string, orders: number, skus: string[]): Promise<Omit<EndToEndRun, 'cost'> & { start: Date; lastDoneAt: Date | null }> {
  const start = new Date();
  await postOrders(baseUrl, orders, 32, skus);
  const drained = await waitUntil(
    async () => (await count(db, `SELECT count(*)::int AS n FROM "Orders" WHERE status IN ('pending', 'reserved') AND created_at >= $1`, [start])) === 0,
    180_000,
    500,
  );
  if (!drained) throw new Error(`end to end: orders still open 180 s after the burst of ${orders}`);
  const times = await orderTimes(db, start);
  const completed = await count(db, `SELECT count(*)::int AS n FROM "Orders" WHERE status = 'completed' AND created_at >= $1`, [start]);
  const seconds = ((times.lastDoneAt?.getTime() ?? Date.now()) - start.getTime()) / 1000;
  return { orders, completed, ordersPerSec: Math.round(completed / seconds), seconds: Number(seconds.toFixed(2)), p50Ms: times.p50Ms, p99Ms: times.p99Ms, start, lastDoneAt: times.lastDoneAt };
}

async function adminCall<T>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${await adminToken()}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/**
 * The pair of end-to-end runs (without an endpoint, then with one), `orders` each, on their own 50
 * SKUs. The endpoint is deleted afterwards, so later scenarios run without it.
 */
export async function runWebhookBenchmark(
  db: Client,
  baseUrl: string,
  options: { orders: number; counters?: DatabaseCounters; servicePids?: number[] },
): Promise<WebhookBenchResult> {
  const meter: CostMeter = { counters: options.counters, servicePids: options.servicePids ?? [] };
  const skus = Array.from({ length: 50 }, (_, i) => `BENCH-HOOK-${i}`);
  await db.query(
    `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold)
     SELECT s, 'Bench ' || s, 1000, 'EUR', 10000000, 0 FROM unnest($1::text[]) s`,
    [skus],
  );

  const endWithout = await meterCost(meter);
  const withoutRun = await endToEnd(db, baseUrl, options.orders, skus);
  const without = { ...withoutRun, cost: await endWithout(withoutRun.completed) };
  await assertInvariants(db, 'end to end without a webhook endpoint');

  // The events of the run before are all relayed (to no endpoint) before the endpoint exists.
  await waitUntil(async () => (await count(db, `SELECT count(*)::int AS n FROM "Events" WHERE dispatched_at IS NULL`)) === 0, 60_000, 250);

  const receiver = await startWebhookReceiver();
  let endpointId: string | undefined;
  try {
    const created = await adminCall<{ endpoint?: { id: string; secret: string } }>('POST', `${baseUrl}/webhooks`, {
      url: receiver.hookUrl,
      events: ['*'],
      description: 'bench: every event',
    });
    if (created.status !== 201 || !created.body.endpoint?.secret) throw new Error(`POST /webhooks answered ${created.status}: ${JSON.stringify(created.body)}`);
    endpointId = created.body.endpoint.id;
    receiver.receiver.settings.secret = created.body.endpoint.secret;
    const registeredAt = new Date();

    const endWith = await meterCost(meter);
    const withHooks = await endToEnd(db, baseUrl, options.orders, skus);
    // What the receiver must end up with: every event of this run's orders, and any inventory event since the endpoint exists.
    const expectedEvents = async () => count(
      db,
      `SELECT count(*)::int AS n FROM "Events" e
       WHERE (e.order_id IN (SELECT id FROM "Orders" WHERE created_at >= $1)) OR (e.order_id IS NULL AND e.type LIKE 'inventory.%' AND e.created_at >= $2)`,
      [withHooks.start, registeredAt],
    );
    const unique = () => new Set(receiver.receiver.received.map((r) => r.eventId)).size;
    let events = await expectedEvents();
    await waitUntil(async () => {
      events = await expectedEvents();
      return unique() >= events;
    }, DELIVERY_TIMEOUT_MS, 250);
    // Redeliveries still on their way would land after the figures: wait until nothing is pending.
    let endpointDeliveries: WebhookBenchResult['endpointDeliveries'] = null;
    await waitUntil(async () => {
      const res = await adminCall<{ endpoint?: { deliveries?: { pending: number; delivered: number; failed: number } } }>('GET', `${baseUrl}/webhooks/${endpointId}`);
      endpointDeliveries = res.body.endpoint?.deliveries ?? null;
      return endpointDeliveries !== null && endpointDeliveries.pending === 0;
    }, 60_000, 500);

    const received = [...receiver.receiver.received];
    const uniqueEvents = unique();
    const stats = { ...receiver.receiver.stats };
    const receivedTimes = received.map((r) => Date.parse(r.receivedAt));
    const lastDelivery = receivedTimes.length ? Math.max(...receivedTimes) : Date.now();
    const deliveriesSeconds = (lastDelivery - withHooks.start.getTime()) / 1000;
    const badSignatures = received.filter((r) => r.signatureValid !== true).length;

    // Every event delivered, once each by event id, nothing else: or no figure is worth printing.
    const problems: string[] = [];
    if (uniqueEvents !== events) problems.push(`the receiver holds ${uniqueEvents} distinct events, "Events" has ${events} for the run's orders (and inventory)`);
    if (badSignatures) problems.push(`${badSignatures} of ${received.length} deliveries had an invalid signature`);
    if (endpointDeliveries === null) problems.push('GET /webhooks/:id gave no delivery counts');
    else {
      const counts = endpointDeliveries as { pending: number; delivered: number; failed: number };
      if (counts.failed || counts.pending) problems.push(`deliveries: ${counts.pending} pending, ${counts.failed} failed`);
    }
    if (problems.length) {
      console.error(`\nWEBHOOK DELIVERIES INCOMPLETE: ${problems.join('; ')}`);
      throw new Error(`webhook bench: ${problems.join('; ')}`);
    }
    process.stdout.write(`  every event delivered: ${uniqueEvents} distinct events, ${stats.accepted} deliveries, signatures valid\n`);
    const withCost = await endWith(withHooks.completed);
    await assertInvariants(db, 'end to end with a webhook endpoint');

    const strip = <T extends { start: Date; lastDoneAt: Date | null }>({ start: _start, lastDoneAt: _last, ...run }: T) => run;
    return {
      orders: options.orders,
      without: strip(without),
      with: { ...strip(withHooks), cost: withCost },
      ratio: Number((withHooks.ordersPerSec / without.ordersPerSec).toFixed(3)),
      events,
      deliveries: stats.accepted,
      uniqueEvents,
      deliveriesPerSec: Math.round(stats.accepted / deliveriesSeconds),
      lastDeliveryAfterLastOrderSec: Number(((lastDelivery - (withHooks.lastDoneAt?.getTime() ?? lastDelivery)) / 1000).toFixed(2)),
      deliveriesSeconds: Number(deliveriesSeconds.toFixed(2)),
      receiverStats: stats,
      endpointDeliveries,
    };
  } finally {
    if (endpointId) {
      const deleted = await adminCall('DELETE', `${baseUrl}/webhooks/${endpointId}`).catch((e: Error) => ({ status: 0, body: e.message }));
      if (deleted.status !== 204) console.error(`DELETE /webhooks/${endpointId} answered ${deleted.status}: ${JSON.stringify(deleted.body)}`);
    }
    await receiver.close();
  }
}

/** The rows bench/index.ts and bench/orders.ts print for it. */
export function webhookRows(r: WebhookBenchResult, ratioToPgbench: (v: number) => number | null = () => null) {
  const cost = (c: RunCost) => [
    c.cpuSecondsPerThousandOrders === null ? null : `service CPU ${c.cpuSecondsPerThousandOrders} s per 1,000 orders`,
    `bench process CPU ${c.benchCpuSecondsPerThousandOrders} s`,
    c.roundTripsPerOrder === null ? null : `${c.roundTripsPerOrder} round trips`,
    c.commitsPerOrder === null ? null : `${c.commitsPerOrder} commits per order`,
  ].filter(Boolean).join(', ') || null;
  return {
    [`end to end, no webhook endpoint (${r.orders.toLocaleString('en')} orders)`]: {
      value: r.without.ordersPerSec,
      'ratio to pgbench': ratioToPgbench(r.without.ordersPerSec),
      p50Ms: r.without.p50Ms,
      p99Ms: r.without.p99Ms,
      errors: r.orders - r.without.completed,
      detail: cost(r.without.cost),
    },
    [`end to end, one webhook endpoint for every event (${r.orders.toLocaleString('en')} orders)`]: {
      value: r.with.ordersPerSec,
      'ratio to pgbench': ratioToPgbench(r.with.ordersPerSec),
      p50Ms: r.with.p50Ms,
      p99Ms: r.with.p99Ms,
      errors: r.orders - r.with.completed,
      detail: `${cost(r.with.cost) ?? ''} (deliveries included)`,
    },
    'webhooks: end to end with ÷ without': { value: r.ratio, aim: `≥ ${WEBHOOK_RATIO_AIM.toFixed(2)}` },
    'webhooks: deliveries/s': {
      value: r.deliveriesPerSec,
      'ratio to pgbench': ratioToPgbench(r.deliveriesPerSec),
      detail: `${r.deliveries} deliveries of ${r.uniqueEvents} events in ${r.deliveriesSeconds} s from the first POST`,
    },
    'webhooks: last order completed → last delivery (s)': { value: r.lastDeliveryAfterLastOrderSec },
  };
}

/** The statements each run called most, per completed order (needs pg_stat_statements). */
export function printTopStatements(r: WebhookBenchResult): void {
  for (const [name, run] of [['without an endpoint', r.without], ['with one endpoint (deliveries included)', r.with]] as const) {
    if (!run.cost.topStatements.length) continue;
    console.log(`\nend to end ${name}: statements per completed order, most called first`);
    for (const st of run.cost.topStatements) console.log(`  ${st.perOrder.toFixed(2).padStart(6)}  ${st.text}`);
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--orders');
  const orders = i >= 0 ? Number(process.argv[i + 1]) : 5000;
  if (!Number.isInteger(orders) || orders <= 0) throw new Error('--orders takes a positive whole number');
  const database = await benchDatabase();
  const service = await startServiceProcess({ DATABASE_URL: database.url });
  const db = new Client({ connectionString: database.url });
  const counted = countStatements(db);
  await db.connect();
  try {
    const counters = await DatabaseCounters.open(db, counted);
    const result = await runWebhookBenchmark(db, service.baseUrl, { orders, counters, servicePids: service.child.pid ? [service.child.pid] : [] });
    console.log('\norderloop webhook benchmark');
    console.table(webhookRows(result));
    printTopStatements(result);
  } finally {
    await db.end();
    await service.stop();
    await database.stop();
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
