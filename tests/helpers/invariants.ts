import type { TestApp } from './test-app';

const TERMINAL = ['completed', 'failed', 'cancelled', 'refunded'];
const TERMINAL_SQL = TERMINAL.map((s) => `'${s}'`).join(', ');
const TERMINAL_EVENTS: Record<string, string> = { completed: 'ORDER_COMPLETED', failed: 'ORDER_FAILED', cancelled: 'ORDER_CANCELLED', refunded: 'ORDER_REFUNDED' };
const TERMINAL_EVENTS_SQL = Object.values(TERMINAL_EVENTS).map((e) => `'${e}'`).join(', ');

/**
 * The invariants from DEVELOPERS.md, checked after every concurrent test. Returns the list of
 * violations (empty when all hold) so a failing test shows exactly what broke.
 *
 * `requireTerminal: false` (a check while work may still be under way) accepts open orders and
 * refunds still `requested`, and adds up the money only over the orders that are settled
 * (terminal, no refund on its way). On a database without the "Refunds" table (before its
 * migration) the refund checks are skipped and a failed order may hold no successful charge.
 */
export async function invariantViolations(t: Pick<TestApp, 'query'>, options: { requireTerminal?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const requireTerminal = options.requireTerminal !== false;
  const [{ refunds: refundsTable }] = await t.query<{ refunds: string | null }>(`SELECT to_regclass('"Refunds"')::text AS refunds`);
  const withRefunds = refundsTable !== null;

  const stock = await t.query<{ sku: string; on_hand: number; reserved: number; active: string }>(
    `SELECT p.sku, p.stock_on_hand AS on_hand, p.stock_reserved AS reserved,
            COALESCE((SELECT sum(quantity) FROM "Stock_Reservations" r WHERE r.product_id = p.id AND r.status = 'active'), 0)::text AS active
     FROM "Products" p`,
  );
  for (const p of stock) {
    if (p.reserved < 0 || p.reserved > p.on_hand) problems.push(`${p.sku}: reserved ${p.reserved} outside 0..${p.on_hand}`);
    if (Number(p.active) !== p.reserved) problems.push(`${p.sku}: stock_reserved ${p.reserved} but active reservations hold ${p.active}`);
  }

  if (requireTerminal) {
    const open = await t.query<{ id: string; status: string }>(`SELECT id, status FROM "Orders" WHERE status NOT IN (${TERMINAL_SQL})`);
    for (const o of open) problems.push(`order ${o.id} is still ${o.status}`);
  }

  // Each order's successful charges and (when the table exists) its refund: one per order at most (UNIQUE order_id).
  const money = await t.query<OrderMoney>(
    `SELECT o.id, o.status, o.total_cents::text AS total,
            (SELECT count(*) FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded')::int AS charges,
            (SELECT min(p.amount_cents) FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded')::text AS charge_amount,
            (SELECT min(p.provider_charge_id) FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded') AS charge_id,
            ${withRefunds
              ? `r.status AS refund_status, r.amount_cents::text AS refund_amount, r.provider_charge_id AS refund_charge_id
               FROM "Orders" o LEFT JOIN "Refunds" r ON r.order_id = o.id`
              : `NULL AS refund_status, NULL AS refund_amount, NULL AS refund_charge_id
               FROM "Orders" o`}`,
  );
  for (const m of money) problems.push(...orderMoneyViolations(m, withRefunds, requireTerminal));
  if (withRefunds) {
    // The money adds up: what the provider kept is exactly what the completed orders cost.
    const counted = money.filter((m) => requireTerminal || (TERMINAL.includes(m.status) && m.refund_status !== 'requested'));
    const charged = counted.reduce((sum, m) => sum + (m.charges > 0 ? BigInt(m.charge_amount ?? 0) * BigInt(m.charges) : 0n), 0n);
    const refunded = counted.reduce((sum, m) => sum + (m.refund_status === 'succeeded' ? BigInt(m.refund_amount ?? 0) : 0n), 0n);
    const completed = counted.reduce((sum, m) => sum + (m.status === 'completed' ? BigInt(m.total) : 0n), 0n);
    if (charged - refunded !== completed) {
      problems.push(`money: successful charges ${charged} - successful refunds ${refunded} = ${charged - refunded}, but completed orders total ${completed}${requireTerminal ? '' : ` (over ${counted.length} settled orders)`}`);
    }
  }

  const leftovers = await t.query<{ order_id: string }>(
    `SELECT DISTINCT r.order_id FROM "Stock_Reservations" r JOIN "Orders" o ON o.id = r.order_id
     WHERE r.status = 'active' AND o.status IN (${TERMINAL_SQL})`,
  );
  for (const l of leftovers) problems.push(`terminal order ${l.order_id} still holds an active reservation`);

  const stories = await t.query<{ id: string; status: string; first: string | null; last: string | null; final: string | null }>(
    `SELECT o.id, o.status,
            (SELECT event FROM "Order_Logs" l WHERE l.order_id = o.id ORDER BY id ASC LIMIT 1) AS first,
            (SELECT event FROM "Order_Logs" l WHERE l.order_id = o.id AND l.event IN (${TERMINAL_EVENTS_SQL}) ORDER BY id DESC LIMIT 1) AS last,
            (SELECT event FROM "Order_Logs" l WHERE l.order_id = o.id ORDER BY id DESC LIMIT 1) AS final
     FROM "Orders" o`,
  );
  for (const s of stories) {
    if (s.first !== 'ORDER_CREATED') problems.push(`order ${s.id}: log starts with ${s.first}`);
    if (TERMINAL_EVENTS[s.status] && s.last !== TERMINAL_EVENTS[s.status]) problems.push(`order ${s.id} is ${s.status} but its log ends with ${s.last}`);
    // Nothing happens to a refunded order after its refund: ORDER_REFUNDED is the very last row.
    if (s.status === 'refunded' && s.final !== 'ORDER_REFUNDED') problems.push(`refunded order ${s.id}: its story's last event is ${s.final}, not ORDER_REFUNDED`);
  }

  if (withRefunds) {
    // A refund that was paid out is in its order's story, from its request.
    const untold = await t.query<{ order_id: string; requested: boolean; succeeded: boolean }>(
      `SELECT r.order_id,
              EXISTS (SELECT 1 FROM "Order_Logs" l WHERE l.order_id = r.order_id AND l.event = 'REFUND_REQUESTED') AS requested,
              EXISTS (SELECT 1 FROM "Order_Logs" l WHERE l.order_id = r.order_id AND l.event = 'REFUND_SUCCEEDED') AS succeeded
       FROM "Refunds" r WHERE r.status = 'succeeded'`,
    );
    for (const u of untold.filter((x) => !x.requested || !x.succeeded)) {
      problems.push(`order ${u.order_id}: its refund succeeded but its log has no ${u.requested ? 'REFUND_SUCCEEDED' : 'REFUND_REQUESTED'}`);
    }
  }
  return problems;
}

interface OrderMoney {
  id: string;
  status: string;
  total: string;
  charges: number;
  charge_amount: string | null;
  charge_id: string | null;
  refund_status: string | null;
  refund_amount: string | null;
  refund_charge_id: string | null;
}

/** One order's charges and refund against its status (DEVELOPERS.md, invariant 4). */
function orderMoneyViolations(m: OrderMoney, withRefunds: boolean, requireTerminal: boolean): string[] {
  const problems: string[] = [];
  const refundSucceeded = m.refund_status === 'succeeded' ? 1 : 0;
  switch (m.status) {
    case 'completed':
      if (m.charges !== 1) problems.push(`completed order ${m.id} has ${m.charges} successful charges`);
      if (refundSucceeded) problems.push(`completed order ${m.id} has a successful refund (it should be refunded)`);
      // An admin's refund on its way: work not yet done when everything should be at rest.
      if (requireTerminal && m.refund_status === 'requested') problems.push(`completed order ${m.id}: its refund is still requested`);
      break;
    case 'refunded':
      if (m.charges !== 1) problems.push(`refunded order ${m.id} has ${m.charges} successful charges`);
      if (!withRefunds) break;
      if (!refundSucceeded) problems.push(`refunded order ${m.id} has no successful refund (refund ${m.refund_status ?? 'missing'})`);
      else if (m.refund_amount !== m.charge_amount) problems.push(`refunded order ${m.id}: refund of ${m.refund_amount} for a charge of ${m.charge_amount}`);
      else if (m.refund_charge_id !== m.charge_id) problems.push(`refunded order ${m.id}: refund of charge ${m.refund_charge_id}, but the order's charge is ${m.charge_id}`);
      break;
    case 'failed':
    case 'cancelled':
      if (!withRefunds) {
        // Before refunds existed a failed order held no successful charge, and a cancelled one was not checked.
        if (m.status === 'failed' && m.charges !== 0) problems.push(`failed order ${m.id} has ${m.charges} successful charges`);
        break;
      }
      if (m.charges > 1) problems.push(`${m.status} order ${m.id} has ${m.charges} successful charges`);
      else if (refundSucceeded !== m.charges && !(m.refund_status === 'requested' && !requireTerminal)) {
        problems.push(m.charges
          ? `${m.status} order ${m.id} was charged (${m.charge_id}) and not refunded (refund ${m.refund_status ?? 'missing'})`
          : `${m.status} order ${m.id} has a successful refund but no successful charge`);
      } else if (refundSucceeded && (m.refund_amount !== m.charge_amount || m.refund_charge_id !== m.charge_id)) {
        problems.push(`${m.status} order ${m.id}: refund of ${m.refund_amount} on ${m.refund_charge_id} for its charge of ${m.charge_amount} on ${m.charge_id}`);
      }
      break;
    default:
      // An open order: a refund on it is a mistake whatever its state.
      if (withRefunds && m.refund_status) problems.push(`${m.status} order ${m.id} has a refund (${m.refund_status})`);
  }
  return problems;
}

/** The status each order event shows its order in. */
const STATUS_OF_ORDER_EVENT: Record<string, string> = {
  'order.created': 'pending',
  'order.reserved': 'reserved',
  'order.completed': 'completed',
  'order.failed': 'failed',
  'order.cancelled': 'cancelled',
  'order.refunded': 'refunded',
};
const STATUS_OF_ORDER_EVENT_SQL = `(VALUES ${Object.entries(STATUS_OF_ORDER_EVENT).map(([type, status]) => `('${type}', '${status}')`).join(', ')}) AS s(type, status)`;

/**
 * Order events ("Events", the outbox) against the orders they report, true at any moment since each
 * event is written in the transaction of its change: an order's events are numbered 1..n without a gap,
 * n is the order's event_sequence, the first is order.created and the last names the order's current
 * status; each event's data is its order as the event committed it (its id, its customer, the status
 * the type names); only order events carry an order. `requireDispatched` (everything at rest): every
 * event has been relayed. Orders from before the events migration (event_sequence 0, no event) are
 * left alone; on a database without "Events" nothing is checked.
 */
export async function eventViolations(t: Pick<TestApp, 'query'>, options: { requireDispatched?: boolean } = {}): Promise<string[]> {
  const [{ events: eventsTable }] = await t.query<{ events: string | null }>(`SELECT to_regclass('"Events"')::text AS events`);
  if (eventsTable === null) return [];
  const problems: string[] = [];

  const orders = await t.query<{ id: string; status: string; event_sequence: number; count: number; min: number | null; max: number | null; first: string | null; last: string | null }>(
    `SELECT o.id, o.status, o.event_sequence, count(e.id)::int AS count, min(e.sequence) AS min, max(e.sequence) AS max,
            (array_agg(e.type ORDER BY e.sequence ASC))[1] AS first, (array_agg(e.type ORDER BY e.sequence DESC))[1] AS last
     FROM "Orders" o LEFT JOIN "Events" e ON e.order_id = o.id
     GROUP BY o.id`,
  );
  for (const o of orders) {
    if (o.count === 0 && o.event_sequence === 0) continue;
    if (o.count !== o.event_sequence) problems.push(`order ${o.id}: ${o.count} event(s) but event_sequence ${o.event_sequence}`);
    if (o.count > 0 && (o.min !== 1 || o.max !== o.count)) problems.push(`order ${o.id}: its ${o.count} event(s) are numbered ${o.min}..${o.max}, not 1..${o.count}`);
    if (o.first !== 'order.created') problems.push(`order ${o.id}: its first event is ${o.first}, not order.created`);
    if (o.last !== `order.${o.status}` && !(o.status === 'pending' && o.last === 'order.created')) {
      problems.push(`order ${o.id} is ${o.status} but its last event is ${o.last}`);
    }
  }

  const wrongData = await t.query<{ id: string; type: string; order_id: string; data_id: string | null; data_status: string | null; data_customer: string | null; customer_id: string | null; order_customer: string }>(
    `SELECT e.id, e.type, e.order_id, e.data->>'id' AS data_id, e.data->>'status' AS data_status, e.data->>'customerId' AS data_customer,
            e.customer_id, o.customer_id AS order_customer
     FROM "Events" e JOIN "Orders" o ON o.id = e.order_id JOIN ${STATUS_OF_ORDER_EVENT_SQL} ON s.type = e.type
     WHERE e.data->>'id' IS DISTINCT FROM e.order_id::text OR e.data->>'status' IS DISTINCT FROM s.status
        OR e.data->>'customerId' IS DISTINCT FROM o.customer_id OR e.customer_id IS DISTINCT FROM o.customer_id`,
  );
  for (const e of wrongData) {
    problems.push(`event ${e.id} (${e.type} of order ${e.order_id}): data shows order ${e.data_id}, status ${e.data_status}, customer ${e.data_customer}; event customer ${e.customer_id}, order's ${e.order_customer}`);
  }

  const misplaced = await t.query<{ id: string; type: string; order_id: string | null }>(
    `SELECT e.id, e.type, e.order_id FROM "Events" e
     WHERE (e.type LIKE 'order.%') <> (e.order_id IS NOT NULL)
        OR (e.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "Orders" o WHERE o.id = e.order_id))`,
  );
  for (const e of misplaced) problems.push(`event ${e.id} (${e.type}) has order ${e.order_id ?? 'none'}`);

  if (options.requireDispatched) {
    const [{ n }] = await t.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Events" WHERE dispatched_at IS NULL`);
    if (n > 0) problems.push(`${n} event(s) not yet relayed to the webhook endpoints`);
  }
  return problems;
}

/**
 * Webhook deliveries against their attempts and endpoints: each delivery's attempt log is numbered
 * 1..attempts; a delivered delivery has its time and its last attempt delivered it; a failed one has
 * no delivery time and its last attempt failed (a delivery retried by hand may have been delivered
 * before); an endpoint gets only the event types it subscribes to ("*" for all; a `ping` only when
 * tested), and a customer's endpoint only its own customer's order events.
 * `requireSettled` (every receiver up and everything at rest): no delivery is still pending. On a
 * database without the webhook tables nothing is checked.
 */
export async function webhookViolations(t: Pick<TestApp, 'query'>, options: { requireSettled?: boolean } = {}): Promise<string[]> {
  const [{ deliveries: deliveriesTable }] = await t.query<{ deliveries: string | null }>(`SELECT to_regclass('"Webhook_Deliveries"')::text AS deliveries`);
  if (deliveriesTable === null) return [];
  const problems: string[] = [];

  const deliveries = await t.query<{ id: string; status: string; attempts: number; delivered_at: Date | null; logged: number; numbered: boolean; last: string | null }>(
    `SELECT d.id, d.status, d.attempts, d.delivered_at, count(a.id)::int AS logged,
            COALESCE(array_agg(a.attempt ORDER BY a.attempt) FILTER (WHERE a.id IS NOT NULL) = array(SELECT generate_series(1, d.attempts)), d.attempts = 0) AS numbered,
            (array_agg(a.outcome ORDER BY a.attempt DESC, a.id DESC))[1] AS last
     FROM "Webhook_Deliveries" d LEFT JOIN "Webhook_Attempts" a ON a.delivery_id = d.id
     GROUP BY d.id`,
  );
  for (const d of deliveries) {
    if (!d.numbered) problems.push(`delivery ${d.id}: ${d.attempts} attempt(s) counted, but its log holds ${d.logged} not numbered 1..${d.attempts}`);
    if (d.status === 'delivered') {
      if (d.delivered_at === null) problems.push(`delivery ${d.id} is delivered without a delivery time`);
      if (d.last !== 'delivered') problems.push(`delivery ${d.id} is delivered but its last attempt ${d.last === null ? 'does not exist' : `was ${d.last}`}`);
    } else if (d.status === 'failed') {
      if (d.delivered_at !== null) problems.push(`delivery ${d.id} is failed but has a delivery time`);
      if (d.last !== 'failed') problems.push(`delivery ${d.id} is failed but its last attempt ${d.last === null ? 'does not exist' : `was ${d.last}`}`);
    } else if (options.requireSettled) {
      problems.push(`delivery ${d.id} is still ${d.status}`);
    }
  }

  const unsubscribed = await t.query<{ id: string; type: string; endpoint_id: string }>(
    `SELECT d.id, e.type, d.endpoint_id FROM "Webhook_Deliveries" d
     JOIN "Events" e ON e.id = d.event_id JOIN "Webhook_Endpoints" w ON w.id = d.endpoint_id
     WHERE e.type <> 'ping' AND NOT (e.type = ANY (w.events) OR '*' = ANY (w.events))`,
  );
  for (const u of unsubscribed) problems.push(`delivery ${u.id}: endpoint ${u.endpoint_id} got ${u.type}, which it does not subscribe to`);

  const foreign = await t.query<{ id: string; type: string; endpoint_id: string; customer: string; event_customer: string | null }>(
    `SELECT d.id, e.type, d.endpoint_id, w.customer_id AS customer, e.customer_id AS event_customer FROM "Webhook_Deliveries" d
     JOIN "Events" e ON e.id = d.event_id JOIN "Webhook_Endpoints" w ON w.id = d.endpoint_id
     WHERE w.customer_id IS NOT NULL AND e.type <> 'ping' AND (e.type NOT LIKE 'order.%' OR e.customer_id IS DISTINCT FROM w.customer_id)`,
  );
  for (const f of foreign) problems.push(`delivery ${f.id}: customer ${f.customer}'s endpoint ${f.endpoint_id} got ${f.type} of customer ${f.event_customer ?? 'none'}`);
  return problems;
}
