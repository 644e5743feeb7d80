import { startWebhookReceiver, type ReceivedDelivery } from '../../src/mocks/webhook-receiver';
import { eventViolations, webhookViolations } from '../../tests/helpers/invariants';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { QUEUES } from '../../src/queue/queues';
import { rows, sleep, type ChaosProcess } from '../cluster';
import { createProducts, finalChecks, formatCounts } from '../checks';
import { sendOrders, waitForAllTerminal } from '../load';
import { randomItem, seconds, startStack, type Scenario } from './common';

const ORDERS = 300;
/** Orders arrive at this rate: about 50 s of arrivals, so the outage and the kill land while they do. */
const PER_SECOND = 6;
/** The receiver is down (every delivery's connection dropped) from this long after the first order… */
const DOWN_AT_MS = 8_000;
/** …for this long. */
const OUTAGE_MS = 30_000;
/** The receiver answers after this long, so deliveries are in flight whenever any is due. */
const RECEIVER_LATENCY_MS = 150;
/** Kill the worker once at least this many deliveries are in flight at the receiver (after the outage). */
const IN_FLIGHT_AT_KILL = 2;
/**
 * Deliveries retry 1 s after a failure, doubling (WEBHOOK_RETRY_DELAY_S); 20 attempts reach far past
 * the outage, so nothing should be given up on. The service runs with NODE_ENV=production in the
 * chaos cluster, where a loopback endpoint is refused unless WEBHOOK_ALLOW_PRIVATE says otherwise.
 */
const WEBHOOK_ENV = {
  WEBHOOK_RETRY_DELAY_S: '1',
  WEBHOOK_MAX_ATTEMPTS: '20',
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_ALLOW_PRIVATE: 'true',
};
/** The status each order.* event shows the order in (its data is the order as that event committed it). */
const STATUS_OF_EVENT: Record<string, string> = {
  'order.created': 'pending',
  'order.reserved': 'reserved',
  'order.completed': 'completed',
  'order.failed': 'failed',
  'order.cancelled': 'cancelled',
  'order.refunded': 'refunded',
};

interface DeliveryCounts {
  pending: number;
  delivered: number;
  failed: number;
}

interface EndpointView {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  secret?: string;
  deliveries?: DeliveryCounts;
}

async function api<T>(method: string, url: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/**
 * Which of `pids` holds the client side of the TCP connections to `serverPort` from `clientPorts`
 * (Linux: /proc/net/tcp* gives each socket's inode, /proc/<pid>/fd the process's sockets). Each pid
 * maps to the client ports it holds.
 */
function socketOwners(pids: number[], serverPort: number, clientPorts: Set<number>): Map<number, number[]> {
  // A process or socket may be gone by the time it is read.
  const attempt = <T>(read: () => T, otherwise: T): T => {
    try {
      return read();
    } catch {
      return otherwise;
    }
  };
  const portOfInode = new Map<string, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = attempt(() => fs.readFileSync(file, 'utf8'), '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const local = parseInt(fields[1].split(':')[1], 16);
      const remote = parseInt(fields[2].split(':')[1], 16);
      if (remote === serverPort && clientPorts.has(local)) portOfInode.set(fields[9], local);
    }
  }
  const owners = new Map<number, number[]>();
  for (const pid of pids) {
    for (const fd of attempt(() => fs.readdirSync(`/proc/${pid}/fd`), [] as string[])) {
      const link = attempt(() => fs.readlinkSync(`/proc/${pid}/fd/${fd}`), '');
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      const port = inode ? portOfInode.get(inode) : undefined;
      if (port !== undefined) owners.set(pid, [...(owners.get(pid) ?? []), port]);
    }
  }
  return owners;
}

/** The copies of each event the receiver accepted, by event id. */
function byEvent(received: readonly ReceivedDelivery[]): Map<string, ReceivedDelivery[]> {
  const map = new Map<string, ReceivedDelivery[]>();
  for (const r of received) map.set(r.eventId, [...(map.get(r.eventId) ?? []), r]);
  return map;
}

/**
 * 8. Webhooks: one endpoint subscribed to every event (a receiver mock in the runner, checking each
 * delivery's signature with the endpoint's secret) while 300 orders run through an api process and
 * two workers; the receiver drops every connection for 30 s while the orders arrive, and once it is
 * back the worker is killed with kill -9 while deliveries are in flight and a new one is started.
 * Every event committed in "Events" reaches the receiver at least once, signed with the endpoint's
 * secret; counted once per event id the receiver holds exactly the events of the table, each
 * order's sequences run 1..n without a gap, each event's data shows the order in the status the
 * event names, no delivery is given up on (failed), and the money and stock checks hold.
 */
export const webhooks: Scenario = {
  id: 'webhooks',
  title: 'webhook receiver down 30 s and a worker killed with deliveries in flight, during 300 orders',
  async run(ctx) {
    const { report } = ctx;
    const receiver = await startWebhookReceiver({ latencyMs: RECEIVER_LATENCY_MS });
    const settings = receiver.receiver.settings;
    const stats = receiver.receiver.stats;
    // The deliveries being answered right now: the client's port → the event id.
    const inFlight = new Map<number, string>();
    receiver.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const port = req.socket.remotePort;
      if (req.method !== 'POST' || !port) return;
      inFlight.set(port, String(req.headers['orderloop-event-id'] ?? ''));
      res.once('close', () => inFlight.delete(port));
    });
    const stack = await startStack(ctx, {
      workers: 2,
      payment: { failureRate: 0.2, declineRate: 0.05, lostResponseRate: 0.02, latencyMs: 100 },
      env: WEBHOOK_ENV,
    }).catch(async (error) => {
      await receiver.close();
      throw error;
    });
    try {
      const products = await createProducts(stack.db.pool, 'HOOK', 5, 5_000);

      const created = await api<{ endpoint?: EndpointView; error?: unknown }>('POST', `${stack.apiUrl}/webhooks`, stack.token, {
        url: receiver.hookUrl,
        events: ['*'],
        description: 'chaos: every event',
      });
      const endpoint = created.body.endpoint;
      if (created.status !== 201 || !endpoint?.id || !endpoint.secret?.startsWith('whsec_')) {
        throw new Error(`POST /webhooks answered ${created.status}: ${JSON.stringify(created.body)}`);
      }
      // From now on every delivery's Orderloop-Signature is checked with the endpoint's secret.
      settings.secret = endpoint.secret;
      const endpointUrl = `${stack.apiUrl}/webhooks/${endpoint.id}`;
      const deliveryCounts = async (): Promise<DeliveryCounts> => {
        const res = await api<{ endpoint?: EndpointView }>('GET', endpointUrl, stack.token);
        if (res.status !== 200 || !res.body.endpoint?.deliveries) throw new Error(`GET /webhooks/${endpoint.id} answered ${res.status}: ${JSON.stringify(res.body)}`);
        return res.body.endpoint.deliveries;
      };
      ctx.log(`endpoint ${endpoint.id} registered for ["*"] at ${receiver.hookUrl}`);

      const startedAt = Date.now();
      const load = sendOrders(stack.apiUrl, stack.token, {
        count: ORDERS,
        concurrency: 4,
        perSecond: PER_SECOND,
        body: (i) => ({ customerId: `cust_${i % 40}`, items: [{ sku: randomItem(products).sku, quantity: 1 + (i % 3) }] }),
      });

      // The outage: every delivery's connection is dropped.
      await sleep(DOWN_AT_MS);
      const acceptedBeforeOutage = stats.accepted;
      settings.down = true;
      const downAt = Date.now();
      ctx.log(`receiver down at ${seconds(downAt - startedAt)} (${acceptedBeforeOutage} deliveries accepted so far)`);
      while (Date.now() - downAt < OUTAGE_MS) {
        await sleep(Math.min(10_000, OUTAGE_MS - (Date.now() - downAt)));
        const counts = await deliveryCounts();
        ctx.log(`down for ${seconds(Date.now() - downAt)}: ${stats.dropped} connection(s) dropped; deliveries pending ${counts.pending}, delivered ${counts.delivered}, failed ${counts.failed}`);
      }
      const droppedDuringOutage = stats.dropped;
      const atReturn = await deliveryCounts();
      settings.down = false;
      const upAt = Date.now();
      ctx.log(`receiver back at ${seconds(upAt - startedAt)}; ${atReturn.pending} delivery(ies) pending`);

      /**
       * kill -9 the worker that has the most deliveries in flight at the receiver (each is held there
       * for RECEIVER_LATENCY_MS), found through the sockets they came on; the events it was sending.
       */
      let victim: ChaosProcess | undefined;
      let cutOff: string[] = [];
      const waitUntil = Date.now() + 30_000;
      while (Date.now() < waitUntil) {
        if (inFlight.size >= IN_FLIGHT_AT_KILL) {
          const owners = socketOwners(stack.workers.map((w) => w.pid()).filter((pid): pid is number => pid !== undefined), receiver.port, new Set(inFlight.keys()));
          const busiest = stack.workers
            .map((w) => ({ w, ports: owners.get(w.pid() ?? -1) ?? [] }))
            .sort((a, b) => b.ports.length - a.ports.length)[0];
          if (busiest && busiest.ports.length > 0) {
            victim = busiest.w;
            cutOff = busiest.ports.map((p) => inFlight.get(p)).filter((id): id is string => id !== undefined);
            break;
          }
        }
        await sleep(10);
      }
      if (!victim) throw new Error(`no worker had ${IN_FLIGHT_AT_KILL} deliveries in flight at the receiver within 30 s of its return`);
      const inFlightAtKill = inFlight.size;
      const acceptedAtKill = stats.accepted;
      await victim.kill9();
      const killedAt = Date.now();
      const activeAtKill = await stack.jobs.activeJobs([QUEUES.WEBHOOK_DELIVER]);
      ctx.log(`SIGKILL ${victim.name} at ${seconds(killedAt - startedAt)} with ${cutOff.length} of its deliveries in flight at the receiver (${inFlightAtKill} in all), ${activeAtKill.length} delivery job(s) active`);
      const replacement = await stack.cluster.service('worker-c', 'worker');
      stack.workers.push(replacement);
      ctx.log(`${replacement.name} started ${seconds(Date.now() - killedAt)} after the kill`);
      /**
       * The delivery jobs the killed worker held: active at the kill and still in that same run once
       * the other worker would have finished its own (a delivery ends within WEBHOOK_TIMEOUT_MS); then
       * how long until none of them is (expired by pg-boss maintenance and handed out again).
       */
      const stillHeld = async (ids: string[]) => (await stack.jobs.jobsById(ids))
        .filter((j) => j.state === 'active' && j.startedOn !== null && j.startedOn.getTime() <= killedAt).length;
      const heldIds = activeAtKill.map((j) => j.id);
      const heldWatch = (async () => {
        await sleep(Math.max(0, killedAt + Number(WEBHOOK_ENV.WEBHOOK_TIMEOUT_MS) + 1_000 - Date.now()));
        const held = await stillHeld(heldIds);
        while (Date.now() - killedAt < 150_000) {
          if ((await stillHeld(heldIds)) === 0) return { held, backAfterMs: Date.now() - killedAt };
          await sleep(500);
        }
        return { held, backAfterMs: Number.POSITIVE_INFINITY };
      })();

      const attempts = await load;
      ctx.log(`load done in ${seconds(Date.now() - startedAt)}`);
      const heldByVictim = await heldWatch;
      ctx.log(`${heldByVictim.held} delivery job(s) held by ${victim.name}, back after ${seconds(heldByVictim.backAfterMs)}`);
      const stillOpen = await waitForAllTerminal(stack.db.pool, 180_000, (n) => ctx.log(`${n} order(s) still open`));
      const terminalAt = Date.now();

      // Settled: every event committed has its delivery, and none is pending any more.
      const eventCount = async () => Number((await rows<{ n: string }>(stack.db.pool, `SELECT count(*) AS n FROM "Events"`))[0].n);
      let settled: DeliveryCounts = await deliveryCounts();
      let events = await eventCount();
      const settleDeadline = Date.now() + 240_000;
      let lastLog = Date.now();
      while (Date.now() < settleDeadline) {
        settled = await deliveryCounts();
        events = await eventCount();
        if (settled.pending === 0 && settled.delivered + settled.failed >= events) break;
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          ctx.log(`waiting for deliveries: ${events} events, pending ${settled.pending}, delivered ${settled.delivered}, failed ${settled.failed}; receiver holds ${byEvent(receiver.receiver.received).size} event(s)`);
        }
        await sleep(500);
      }
      const settledAt = Date.now();
      const received = [...receiver.receiver.received];
      const lastReceivedAt = Math.max(...received.map((r) => Date.parse(r.receivedAt)), 0);

      // What the table holds, against what the receiver got.
      const table = await rows<{ id: string; type: string; order_id: string | null; sequence: number | null }>(
        stack.db.pool,
        `SELECT id, type, order_id, sequence FROM "Events"`,
      );
      const copies = byEvent(received);
      const tableIds = new Set(table.map((e) => e.id));
      const missing = table.filter((e) => !copies.has(e.id));
      const unknown = [...copies.keys()].filter((id) => !tableIds.has(id));
      const duplicated = [...copies.values()].filter((c) => c.length > 1);
      const badSignatures = received.filter((r) => r.signatureValid !== true);
      const typeCounts: Record<string, number> = {};
      for (const e of table) typeCounts[e.type] = (typeCounts[e.type] ?? 0) + 1;

      // Each order's events, once each, from the receiver's copies.
      const first = [...copies.values()].map((c) => c[0]);
      const perOrder = new Map<string, ReceivedDelivery[]>();
      for (const r of first.filter((x) => x.orderId)) perOrder.set(r.orderId!, [...(perOrder.get(r.orderId!) ?? []), r]);
      const gaps: string[] = [];
      for (const [orderId, list] of perOrder) {
        const sequences = list.map((r) => r.sequence ?? 0).sort((a, b) => a - b);
        if (sequences.some((s, i) => s !== i + 1)) gaps.push(`${orderId}: ${sequences.join(',')}`);
      }
      const tableById = new Map(table.map((e) => [e.id, e]));
      const mismatched = first.filter((r) => {
        const row = tableById.get(r.eventId);
        return row && (row.type !== r.type || (row.order_id ?? null) !== r.orderId || (row.sequence ?? null) !== r.sequence);
      });
      const wrongStatus = first.filter((r) => {
        const expected = STATUS_OF_EVENT[r.type];
        const data = r.body.data as { status?: string } | undefined;
        return expected !== undefined && data?.status !== expected;
      });
      const changedCopies = duplicated.filter((c) => c.some((r) => JSON.stringify(r.body) !== JSON.stringify(c[0].body)));
      const orderStatus = new Map(
        (await rows<{ id: string; status: string }>(stack.db.pool, `SELECT id, status FROM "Orders"`)).map((o) => [o.id, o.status]),
      );
      const wrongEnd = [...orderStatus.entries()].filter(([id, status]) => {
        const list = perOrder.get(id) ?? [];
        const last = list.reduce<ReceivedDelivery | undefined>((a, b) => (!a || (b.sequence ?? 0) > (a.sequence ?? 0) ? b : a), undefined);
        return last?.type !== `order.${status}`;
      });

      const endpointAfter = await api<{ endpoint?: EndpointView }>('GET', endpointUrl, stack.token);

      report.figure('webhook settings', `retry delay ${WEBHOOK_ENV.WEBHOOK_RETRY_DELAY_S} s doubling, ${WEBHOOK_ENV.WEBHOOK_MAX_ATTEMPTS} attempts, timeout ${WEBHOOK_ENV.WEBHOOK_TIMEOUT_MS} ms; receiver answers in ${RECEIVER_LATENCY_MS} ms`);
      report.figure('receiver outage', `${seconds(upAt - downAt)} from ${seconds(downAt - startedAt)}: ${droppedDuringOutage} connection(s) dropped, ${atReturn.pending} delivery(ies) pending at the return`);
      report.figure('kill', `${victim.name} at ${seconds(killedAt - startedAt)} with ${cutOff.length} of its deliveries in flight at the receiver (${inFlightAtKill} in all); ${activeAtKill.length} delivery job(s) active, ${heldByVictim.held} of them held by ${victim.name} and back after ${seconds(heldByVictim.backAfterMs)}; ${stats.accepted - acceptedAtKill} deliveries accepted since`);
      report.figure('events in "Events"', `${table.length} (${formatCounts(typeCounts)})`);
      report.figure('deliveries', `pending ${settled.pending}, delivered ${settled.delivered}, failed ${settled.failed}`);
      report.figure('receiver', `${stats.attempts} POST(s): ${stats.accepted} accepted, ${stats.dropped} dropped, ${stats.refused} refused; ${copies.size} distinct event(s), ${duplicated.length} received more than once`);
      report.figure('all orders terminal', stillOpen ? `not within 180 s (${stillOpen} open)` : `${seconds(terminalAt - startedAt)} after the first order`);
      report.figure('last delivery', lastReceivedAt ? `${seconds(lastReceivedAt - upAt)} after the receiver came back, ${seconds(Math.max(0, lastReceivedAt - terminalAt))} after the last order settled` : 'none');
      report.figure('deliveries settled after', `${seconds(settledAt - startedAt)}`);

      report.check('the receiver refused connections during the outage', droppedDuringOutage > 0, `${droppedDuringOutage} dropped`);
      report.check('the kill cut off deliveries in flight', cutOff.length > 0 && heldByVictim.held > 0, `${cutOff.length} of the killed worker's deliveries in flight at the receiver, ${heldByVictim.held} delivery job(s) it held`);
      const notRepeated = cutOff.filter((id) => (copies.get(id)?.length ?? 0) < 2);
      report.check('every delivery cut off by the kill was made again', notRepeated.length === 0,
        notRepeated.length ? `${notRepeated.length} of ${cutOff.length} received only once: ${notRepeated.slice(0, 5).join(', ')}` : `${cutOff.length} of ${cutOff.length} received again`);
      report.check('the killed worker\'s delivery jobs came back within about a minute', Number.isFinite(heldByVictim.backAfterMs) && heldByVictim.backAfterMs <= 75_000, `after ${seconds(heldByVictim.backAfterMs)}`);
      report.check('every delivery settled (none pending)', settled.pending === 0 && settled.delivered + settled.failed >= table.length,
        `pending ${settled.pending}, delivered ${settled.delivered}, failed ${settled.failed} for ${table.length} events`);
      report.check('no delivery failed', settled.failed === 0, `${settled.failed} failed`);
      report.check('every committed event reached the receiver', missing.length === 0 && table.length > 0,
        missing.length ? `${missing.length} of ${table.length} never received, e.g. ${missing.slice(0, 5).map((e) => `${e.type} ${e.order_id ?? ''} #${e.sequence ?? '-'} (${e.id})`).join('; ')}` : `${table.length} of ${table.length}`);
      report.check('the receiver got no event that is not in "Events"', unknown.length === 0, unknown.length ? unknown.slice(0, 5).join(', ') : 'none');
      report.check('once per event id, the receiver holds exactly the events of the table', copies.size === table.length && missing.length === 0 && unknown.length === 0,
        `${copies.size} distinct received, ${table.length} in the table`);
      report.check('every signature was valid', received.length > 0 && badSignatures.length === 0,
        badSignatures.length ? `${badSignatures.length} of ${received.length} invalid, e.g. ${badSignatures.slice(0, 3).map((r) => `${r.type} ${r.eventId}`).join(', ')}` : `${received.length} checked`);
      report.check('each received event matches its row (type, order, sequence)', mismatched.length === 0,
        mismatched.length ? mismatched.slice(0, 5).map((r) => `${r.eventId}: got ${r.type} ${r.orderId} #${r.sequence}, table ${JSON.stringify(tableById.get(r.eventId))}`).join('; ') : `${first.length} events`);
      report.check('per order, the sequences are 1..n without gaps', gaps.length === 0 && perOrder.size > 0,
        gaps.length ? `${gaps.length} order(s): ${gaps.slice(0, 5).join('; ')}` : `${perOrder.size} orders`);
      report.check('every order\'s last event names its final status', wrongEnd.length === 0,
        wrongEnd.length ? `${wrongEnd.length}: ${wrongEnd.slice(0, 5).map(([id, s]) => `${id} is ${s}`).join('; ')}` : `${orderStatus.size} orders`);
      report.check('each event\'s data shows the order in the status the event names', wrongStatus.length === 0,
        wrongStatus.length ? `${wrongStatus.length}: ${wrongStatus.slice(0, 5).map((r) => `${r.type} ${r.orderId} shows ${(r.body.data as { status?: string } | undefined)?.status}`).join('; ')}` : `${first.filter((r) => STATUS_OF_EVENT[r.type]).length} order events`);
      report.check('a redelivered event carries the same body', changedCopies.length === 0,
        changedCopies.length ? `${changedCopies.length} event(s) changed between copies, e.g. ${changedCopies[0][0].eventId}` : `${duplicated.length} redelivered`);
      report.check('the endpoint is still enabled', endpointAfter.status === 200 && endpointAfter.body.endpoint?.enabled === true,
        `${endpointAfter.status}: enabled ${endpointAfter.body.endpoint?.enabled}, ${endpointAfter.body.endpoint?.disabledReason ?? 'no disabled reason'}`);

      const query = <T extends object>(sql: string, bind: unknown[] = []) => rows<T>(stack.db.pool, sql, bind);
      const eventProblems = [...(await eventViolations({ query }, { requireDispatched: true })), ...(await webhookViolations({ query }, { requireSettled: true }))];
      report.check('event and delivery invariants (tests/helpers/invariants.ts)', eventProblems.length === 0,
        eventProblems.length ? `${eventProblems.length}: ${eventProblems.slice(0, 5).join('; ')}` : 'all hold');

      await finalChecks(report, { pool: stack.db.pool, cluster: stack.cluster, paymentUrl: stack.paymentUrl, attempts, products });
    } finally {
      await stack.close();
      await receiver.close();
    }
  },
};
