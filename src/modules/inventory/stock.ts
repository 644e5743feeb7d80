import { lockCommittedProducts, restockCommitted } from './data/restock-committed';
import type { Sequelize, Transaction } from 'sequelize';
import { availableOf } from '../catalog';
import { commitReservations } from './data/commit-reservations';
import { lockProducts } from './data/lock-products';
import { lockReservedProducts } from './data/lock-reserved-products';
import { releaseReservations } from './data/release-reservations';
import type { SettledRow } from './data/settle-reservations';
import { reserveMany } from './data/reserve-many';

/**
 * Stock steps used inside other modules' transactions: reserve and its undo (release),
 * and commit once payment succeeded. Products are always locked in ascending id order,
 * so concurrent orders touching the same products cannot deadlock. Each step is two
 * statements, lock then change: no more round trips than that on the order flow's hot path.
 */

export interface StockLine {
  productId: number;
  sku: string;
  quantity: number;
}

export interface ReservedLine {
  productId: number;
  sku: string;
  quantity: number;
  availableBefore: number;
  availableAfter: number;
  lowStockThreshold: number;
}


/** A product "falls to low stock" when available stock crosses its threshold: logged once, not on every change below it. */
export function fellToLowStock(availableBefore: number, availableAfter: number, threshold: number): boolean {
  return availableBefore > threshold && availableAfter <= threshold;
}

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

export type ReserveResult = { ok: true; lines: ReservedLine[] } | { ok: false; shortages: Shortage[] };

/** Reserves one order's lines, every one or none (a batch of one, see reserveStockBatch). */
export async function reserveStock(
  sequelize: Sequelize,
  orderId: string,
  lines: StockLine[],
  expiresAt: Date,
  transaction: Transaction,
): Promise<ReserveResult> {
  return (await reserveStockBatch(sequelize, [{ orderId, lines }], expiresAt, transaction)).get(orderId)!;
}

/** One order of a batch to reserve, with its lines. */
export interface OrderToReserve {
  orderId: string;
  lines: StockLine[];
}

/**
 * Reserves a batch of orders in arrival order (the order given), each all-or-nothing: under the
 * products' row locks, an order takes its lines when every one of them fits in what the orders
 * before it left, and is refused with its shortages otherwise (so a hot SKU is handed out exactly,
 * never oversold, and a large order that does not fit does not block a small one after it). Then
 * one statement reserves every order that fit. Three round trips for the whole batch.
 */
export async function reserveStockBatch(
  sequelize: Sequelize,
  orders: OrderToReserve[],
  expiresAt: Date,
  transaction: Transaction,
): Promise<Map<string, ReserveResult>> {
  const productIds = [...new Set(orders.flatMap((o) => o.lines.map((l) => l.productId)))].sort((a, b) => a - b);
  const locked = productIds.length ? await lockProducts.rows(sequelize, [productIds], transaction) : [];
  const left = new Map(locked.map((p) => [p.id, availableOf(p)]));
  const thresholds = new Map(locked.map((p) => [p.id, p.lowStockThreshold]));

  const results = new Map<string, ReserveResult>();
  const taken: Array<{ order_id: string; product_id: number; quantity: number }> = [];
  for (const order of orders) {
    const sorted = [...order.lines].sort((a, b) => a.productId - b.productId);
    const shortages = sorted
      .map((line) => ({ sku: line.sku, requested: line.quantity, available: Math.max(0, left.get(line.productId) ?? 0) }))
      .filter((s) => s.available < s.requested);
    if (shortages.length) {
      results.set(order.orderId, { ok: false, shortages });
      continue;
    }
    const lines = sorted.map((line) => {
      const availableBefore = left.get(line.productId)!;
      left.set(line.productId, availableBefore - line.quantity);
      taken.push({ order_id: order.orderId, product_id: line.productId, quantity: line.quantity });
      return {
        productId: line.productId,
        sku: line.sku,
        quantity: line.quantity,
        availableBefore,
        availableAfter: availableBefore - line.quantity,
        lowStockThreshold: thresholds.get(line.productId)!,
      };
    });
    results.set(order.orderId, { ok: true, lines });
  }

  if (taken.length) {
    const reserved = await reserveMany.one(sequelize, [JSON.stringify(taken), expiresAt.toISOString()], transaction);
    const products = new Set(taken.map((t) => t.product_id)).size;
    // Cannot happen under the locks above; failing loudly rolls the whole transaction back.
    if ((reserved?.reservedProducts ?? 0) !== products) throw new Error(`reserved ${reserved?.reservedProducts ?? 0} of ${products} products for a batch`);
  }
  return results;
}

/** A product whose reservation for an order was settled, and how many units. */
export type SettledLine = Omit<SettledRow, 'orderId'>;

/**
 * Ends the given orders' active reservations: `commit` takes the units out of stock (payment
 * done), `release` gives them back. Returns, per order, the lines it changed (an order already
 * settled has none). Two statements however many orders: lock, then change.
 */
async function settle(
  sequelize: Sequelize,
  orderIds: string[],
  mode: 'commit' | 'release',
  transaction: Transaction,
): Promise<Map<string, SettledLine[]>> {
  const settled = new Map<string, SettledLine[]>(orderIds.map((id) => [id, []]));
  // Lock first, in its own statement (see data/lock-reserved-products.ts).
  const locked = await lockReservedProducts.rows(sequelize, [orderIds], transaction);
  if (!locked.length) return settled;
  const change = mode === 'commit' ? commitReservations : releaseReservations;
  for (const { orderId, ...line } of await change.rows(sequelize, [orderIds], transaction)) settled.get(orderId)?.push(line);
  return settled;
}

export const commitStockOf = (s: Sequelize, orderIds: string[], t: Transaction) => settle(s, orderIds, 'commit', t);
export const releaseStockOf = (s: Sequelize, orderIds: string[], t: Transaction) => settle(s, orderIds, 'release', t);
export const releaseStock = async (s: Sequelize, orderId: string, t: Transaction) => (await releaseStockOf(s, [orderId], t)).get(orderId)!;

/** Puts what a refunded order took out of stock back on hand (locks first, in id order); returns the lines. */
export async function restockOrder(sequelize: Sequelize, orderId: string, transaction: Transaction): Promise<Array<{ productId: number; sku: string; quantity: number }>> {
  await lockCommittedProducts.rows(sequelize, [orderId], transaction);
  const lines = await restockCommitted.rows(sequelize, [orderId], transaction);
  return lines.sort((a, b) => a.productId - b.productId);
}
