import type { Sequelize, Transaction } from 'sequelize';
import { availableOf } from '../catalog';
import { commitReservations } from './data/commit-reservations';
import { lockProducts } from './data/lock-products';
import { lockReservedProducts } from './data/lock-reserved-products';
import { releaseReservations, type SettledRow } from './data/release-reservations';
import { reserveLines } from './data/reserve-lines';

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

/** Reserves every line or none: all-or-nothing under row locks taken in id order. */
export async function reserveStock(
  sequelize: Sequelize,
  orderId: string,
  lines: StockLine[],
  expiresAt: Date,
  transaction: Transaction,
): Promise<ReserveResult> {
  const sorted = [...lines].sort((a, b) => a.productId - b.productId);
  const locked = await lockProducts.rows(sequelize, [sorted.map((l) => l.productId)], transaction);
  const products = new Map(locked.map((p) => [p.id, p]));
  const shortages = sorted
    .map((line) => {
      const p = products.get(line.productId);
      return { sku: line.sku, requested: line.quantity, available: p ? availableOf(p) : 0 };
    })
    .filter((s) => s.available < s.requested);
  if (shortages.length) return { ok: false, shortages };

  const payload = JSON.stringify(sorted.map((l) => ({ product_id: l.productId, quantity: l.quantity })));
  const reserved = await reserveLines.one(sequelize, [payload, orderId, expiresAt.toISOString()], transaction);
  const reservedCount = reserved?.reservedCount ?? 0;
  if (reservedCount !== sorted.length) {
    // Cannot happen under the locks above; failing loudly rolls the whole transaction back.
    throw new Error(`reserved ${reservedCount} of ${sorted.length} lines for order ${orderId}`);
  }
  return {
    ok: true,
    lines: sorted.map((line) => {
      const p = products.get(line.productId)!;
      const availableBefore = availableOf(p);
      return {
        productId: line.productId,
        sku: line.sku,
        quantity: line.quantity,
        availableBefore,
        availableAfter: availableBefore - line.quantity,
        lowStockThreshold: p.lowStockThreshold,
      };
    }),
  };
}

/** A product whose reservation for the order was settled, and how many units. */
export type SettledLine = SettledRow;

/**
 * Ends an order's active reservations: `commit` takes the units out of stock (payment done),
 * `release` gives them back. Returns the lines it changed (none when already settled).
 */
async function settle(
  sequelize: Sequelize,
  orderId: string,
  mode: 'commit' | 'release',
  transaction: Transaction,
): Promise<SettledLine[]> {
  // Lock first, in its own statement (see data/lock-reserved-products.ts).
  const locked = await lockReservedProducts.rows(sequelize, [orderId], transaction);
  if (!locked.length) return [];
  const change = mode === 'commit' ? commitReservations : releaseReservations;
  return change.rows(sequelize, [orderId], transaction);
}

export const commitStock = (s: Sequelize, orderId: string, t: Transaction) => settle(s, orderId, 'commit', t);
export const releaseStock = (s: Sequelize, orderId: string, t: Transaction) => settle(s, orderId, 'release', t);
