import type { Pool } from 'pg';
import { invariantViolations } from '../tests/helpers/invariants';
import { inventoryCheck, rows, type Cluster } from './cluster';
import type { OrderAttempt } from './load';

/** One scenario's outcome: its figures (for README "Failure modes") and its checks. */
export class Report {
  readonly figures: Array<[string, string | number]> = [];
  readonly checks: Array<{ name: string; ok: boolean; detail: string }> = [];

  constructor(readonly id: string, readonly title: string) {}

  figure(name: string, value: string | number): void {
    const existing = this.figures.find(([n]) => n === name);
    if (existing) existing[1] = value;
    else this.figures.push([name, value]);
  }

  check(name: string, ok: boolean, detail = ''): boolean {
    this.checks.push({ name, ok, detail });
    return ok;
  }

  get passed(): boolean {
    return this.checks.length > 0 && this.checks.every((c) => c.ok);
  }
}

export interface ProductStock {
  id: number;
  sku: string;
  initialOnHand: number;
}

/** Inserts products for a scenario and returns them with their starting stock. */
export async function createProducts(pool: Pool, prefix: string, count: number, stock: number, priceCents = 1250): Promise<ProductStock[]> {
  const products: ProductStock[] = [];
  for (let i = 1; i <= count; i += 1) {
    const sku = `${prefix}-${String(i).padStart(3, '0')}`;
    const [row] = await rows<{ id: number }>(
      pool,
      `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold)
       VALUES ($1, $2, $3, 'EUR', $4, 5) RETURNING id`,
      [sku, `Chaos product ${sku}`, priceCents + i, stock],
    );
    products.push({ id: row.id, sku, initialOnHand: stock });
  }
  return products;
}

export interface OrderFigures {
  orders: number;
  completed: number;
  failed: number;
  cancelled: number;
  refunded: number;
  open: number;
  failedBy: Record<string, number>;
}

export async function orderFigures(pool: Pool): Promise<OrderFigures> {
  const grouped = await rows<{ status: string; reason: string | null; n: string }>(
    pool,
    `SELECT status, failure_reason AS reason, count(*) AS n FROM "Orders" GROUP BY 1, 2`,
  );
  const figures: OrderFigures = { orders: 0, completed: 0, failed: 0, cancelled: 0, refunded: 0, open: 0, failedBy: {} };
  for (const g of grouped) {
    const n = Number(g.n);
    figures.orders += n;
    if (g.status === 'completed') figures.completed += n;
    else if (g.status === 'failed') {
      figures.failed += n;
      figures.failedBy[g.reason ?? 'UNKNOWN'] = (figures.failedBy[g.reason ?? 'UNKNOWN'] ?? 0) + n;
    } else if (g.status === 'cancelled') figures.cancelled += n;
    else if (g.status === 'refunded') figures.refunded += n;
    else figures.open += n;
  }
  return figures;
}

export function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(', ') : 'none';
}

export interface ProviderCharge {
  id: string;
  orderId: string;
  amountCents: number;
  status: 'succeeded' | 'declined';
}

export interface ProviderRefund {
  id: string;
  chargeId: string;
  orderId: string;
  amountCents: number;
}

const TERMINAL = ['completed', 'failed', 'cancelled', 'refunded'];

/** The items of one of the payment mock's lists (GET /charges, GET /refunds). */
export async function providerList<T>(url: string): Promise<T[]> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { items: T[] }).items;
}

const sum = (values: number[]) => values.reduce((s, v) => s + v, 0);

/**
 * The checks every scenario ends with: each 202 order exists and is terminal, the invariants of
 * DEVELOPERS.md, the provider's own lists of charges and refunds against the database (never two
 * charges for one order nor two refunds of one charge; every completed order charged once, with
 * the charge id it recorded; every charge of an order that did not complete refunded in full; the
 * money the provider kept equals the completed orders' totals), stock that adds up, and
 * `inventory:check` with nothing to fix.
 */
export async function finalChecks(
  report: Report,
  ctx: {
    pool: Pool;
    cluster: Cluster;
    paymentUrl: string;
    attempts: OrderAttempt[];
    products: ProductStock[];
    /** False when an inventory sync may have changed stock_on_hand (scenario 5 checks its own ledger). */
    stockFromOrdersOnly?: boolean;
  },
): Promise<void> {
  const { pool } = ctx;
  const accepted = ctx.attempts.filter((a) => a.status === 202 && a.orderId);
  const figures = await orderFigures(pool);
  report.figure('orders sent', ctx.attempts.length);
  report.figure('accepted (202)', accepted.length);
  const refused: Record<string, number> = {};
  for (const a of ctx.attempts.filter((x) => x.status !== 202)) {
    const key = `${a.status} ${a.code ?? ''}`.trim();
    refused[key] = (refused[key] ?? 0) + 1;
  }
  report.figure('refused at intake', formatCounts(refused));
  report.figure('orders in database', figures.orders);
  report.figure('completed', figures.completed);
  report.figure('failed', `${figures.failed} (${formatCounts(figures.failedBy)})`);
  if (figures.cancelled) report.figure('cancelled', figures.cancelled);
  if (figures.refunded) report.figure('refunded', figures.refunded);

  // Every order that got a 202 exists and reached a terminal state.
  const ids = accepted.map((a) => a.orderId!);
  const found = await rows<{ id: string; status: string }>(pool, `SELECT id, status FROM "Orders" WHERE id = ANY($1::uuid[])`, [ids]);
  const missing = ids.length - found.length;
  const open = found.filter((o) => !TERMINAL.includes(o.status));
  report.check('every 202 order exists', missing === 0, missing ? `${missing} accepted order(s) missing` : `${ids.length} of ${ids.length}`);
  report.check('every order terminal', open.length === 0 && figures.open === 0, open.length || figures.open
    ? `${figures.open} open, e.g. ${open.slice(0, 3).map((o) => `${o.id} ${o.status}`).join(', ')}`
    : `${figures.orders} terminal`);
  const unacknowledged = figures.orders - found.length;
  if (unacknowledged) report.figure('orders created without a 202 reaching the client', unacknowledged);

  const violations = await invariantViolations({ query: <T extends object>(sql: string, bind: unknown[] = []) => rows<T>(pool, sql, bind) });
  report.check('DEVELOPERS.md invariants', violations.length === 0, violations.length ? `${violations.length}: ${violations.slice(0, 5).join('; ')}` : 'all hold');

  // The provider's view: GET /charges and GET /refunds.
  const items = await providerList<ProviderCharge>(`${ctx.paymentUrl}/charges`);
  const refunds = await providerList<ProviderRefund>(`${ctx.paymentUrl}/refunds`);
  const byOrder = new Map<string, ProviderCharge[]>();
  for (const c of items) byOrder.set(c.orderId, [...(byOrder.get(c.orderId) ?? []), c]);
  const doubles = [...byOrder.entries()].filter(([, cs]) => cs.filter((c) => c.status === 'succeeded').length > 1);
  const succeeded = items.filter((c) => c.status === 'succeeded');
  report.figure('charges at the provider', `${items.length} (${succeeded.length} succeeded, ${items.length - succeeded.length} declined)`);
  report.check('no order charged twice at the provider', doubles.length === 0, doubles.length ? `${doubles.length} order(s): ${doubles.slice(0, 3).map(([id]) => id).join(', ')}` : `${byOrder.size} order(s) charged at most once`);

  const paid = await rows<{ id: string; status: string; total: string; charge: string | null }>(
    pool,
    `SELECT o.id, o.status, o.total_cents::text AS total,
            (SELECT provider_charge_id FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded' LIMIT 1) AS charge
     FROM "Orders" o`,
  );
  const completedWithoutCharge = paid.filter((o) => o.status === 'completed' && !succeeded.some((c) => c.id === o.charge && c.orderId === o.id));
  report.check('every completed order holds its provider charge', completedWithoutCharge.length === 0,
    completedWithoutCharge.length ? `${completedWithoutCharge.length}: ${completedWithoutCharge.slice(0, 3).map((o) => o.id).join(', ')}` : `${figures.completed} of ${figures.completed}`);

  // Refunds at the provider: one per charge at most, and each charge of an order that did not complete paid back in full.
  const refundsOfCharge = new Map<string, ProviderRefund[]>();
  for (const r of refunds) refundsOfCharge.set(r.chargeId, [...(refundsOfCharge.get(r.chargeId) ?? []), r]);
  const refundedTwice = [...refundsOfCharge.entries()].filter(([, rs]) => rs.length > 1);
  const statusOf = new Map(paid.map((o) => [o.id, o.status]));
  const chargedNotCompleted = succeeded.filter((c) => statusOf.get(c.orderId) !== 'completed');
  const lateCharges = chargedNotCompleted.filter((c) => ['cancelled', 'failed'].includes(statusOf.get(c.orderId) ?? ''));
  const notPaidBack = chargedNotCompleted.filter((c) => {
    const rs = refundsOfCharge.get(c.id) ?? [];
    return rs.length !== 1 || rs[0].amountCents !== c.amountCents || rs[0].orderId !== c.orderId;
  });
  const refundedOrders = paid.filter((o) => o.status === 'refunded');
  const refundedWrong = refundedOrders.filter((o) => {
    const charges = (byOrder.get(o.id) ?? []).filter((c) => c.status === 'succeeded');
    const orderRefunds = refunds.filter((r) => r.orderId === o.id);
    return charges.length !== 1 || orderRefunds.length !== 1 || orderRefunds[0].chargeId !== charges[0].id;
  });
  const completedRefunded = succeeded.filter((c) => statusOf.get(c.orderId) === 'completed' && refundsOfCharge.has(c.id));
  report.figure('refunds at the provider', `${refunds.length} (${sum(refunds.map((r) => r.amountCents))} cents): ${lateCharges.length} late charge(s) of cancelled/failed orders, ${refundedOrders.length} refunded order(s)`);
  report.check('no charge refunded twice at the provider', refundedTwice.length === 0,
    refundedTwice.length ? `${refundedTwice.length} charge(s): ${refundedTwice.slice(0, 3).map(([id, rs]) => `${id} x${rs.length}`).join(', ')}` : `${refundsOfCharge.size} charge(s) refunded once`);
  report.check('every charge of an order that did not complete is refunded in full', notPaidBack.length === 0,
    notPaidBack.length
      ? notPaidBack.slice(0, 3).map((c) => `${c.orderId} is ${statusOf.get(c.orderId) ?? 'unknown'}, charge ${c.amountCents}, refunds ${JSON.stringify((refundsOfCharge.get(c.id) ?? []).map((r) => r.amountCents))}`).join('; ')
      : `${chargedNotCompleted.length} such charge(s), each refunded once in full`);
  report.check('every refunded order has one charge and one refund at the provider', refundedWrong.length === 0,
    refundedWrong.length ? `${refundedWrong.length}: ${refundedWrong.slice(0, 3).map((o) => o.id).join(', ')}` : `${refundedOrders.length} refunded order(s)`);
  report.check('no completed order refunded at the provider', completedRefunded.length === 0,
    completedRefunded.length ? completedRefunded.slice(0, 3).map((c) => c.orderId).join(', ') : 'none');
  const kept = sum(succeeded.map((c) => c.amountCents)) - sum(refunds.map((r) => r.amountCents));
  const completedTotal = sum(paid.filter((o) => o.status === 'completed').map((o) => Number(o.total)));
  report.figure('money at the provider', `charged ${sum(succeeded.map((c) => c.amountCents))} - refunded ${sum(refunds.map((r) => r.amountCents))} = ${kept} cents; completed orders total ${completedTotal}`);
  report.check('the provider keeps exactly the completed orders\' totals (charges - refunds)', kept === completedTotal, `${kept} vs ${completedTotal}`);

  // Stock adds up: what left the shelf is exactly what completed orders bought (and refunded ones kept, when not restocked).
  const [{ refunds_table: refundsTable }] = await rows<{ refunds_table: string | null }>(pool, `SELECT to_regclass('"Refunds"')::text AS refunds_table`);
  const restocked = refundsTable ? `COALESCE((SELECT r.restock FROM "Refunds" r WHERE r.order_id = o.id AND r.status = 'succeeded'), false)` : 'false';
  const stock = await rows<{ id: number; sku: string; on_hand: number; reserved: number; sold: string }>(
    pool,
    `SELECT p.id, p.sku, p.stock_on_hand AS on_hand, p.stock_reserved AS reserved,
            COALESCE((SELECT sum(i.quantity) FROM "Order_Items" i JOIN "Orders" o ON o.id = i.order_id
                      WHERE i.product_id = p.id AND (o.status = 'completed' OR (o.status = 'refunded' AND NOT ${restocked}))), 0)::text AS sold
     FROM "Products" p WHERE p.id = ANY($1::int[]) ORDER BY p.id`,
    [ctx.products.map((p) => p.id)],
  );
  const initial = ctx.products.reduce((s, p) => s + p.initialOnHand, 0);
  const onHand = stock.reduce((s, p) => s + p.on_hand, 0);
  const sold = stock.reduce((s, p) => s + Number(p.sold), 0);
  const reserved = stock.reduce((s, p) => s + p.reserved, 0);
  report.figure('units', `start ${initial}, sold ${sold}, on hand ${onHand}, reserved ${reserved}`);
  const negative = stock.filter((p) => p.on_hand < 0 || p.reserved < 0 || p.on_hand < p.reserved);
  report.check('no negative stock', negative.length === 0, negative.length ? negative.map((p) => `${p.sku} ${p.on_hand}/${p.reserved}`).join(', ') : 'none');
  if (ctx.stockFromOrdersOnly !== false) {
    const off = stock.filter((p) => ctx.products.find((x) => x.id === p.id)!.initialOnHand - Number(p.sold) !== p.on_hand);
    report.check('stock adds up (start - sold = on hand)', off.length === 0 && reserved === 0,
      off.length ? off.slice(0, 5).map((p) => `${p.sku}: start ${ctx.products.find((x) => x.id === p.id)!.initialOnHand} - sold ${p.sold} != ${p.on_hand}`).join('; ') : `${initial} - ${sold} = ${onHand}, reserved ${reserved}`);
  }

  const repair = await inventoryCheck(ctx.cluster);
  report.figure('inventory:check', repair.summary);
  report.check('inventory:check finds nothing to fix', repair.ok, repair.ok ? '' : repair.output);
}
