import { Op, type Sequelize, type Transaction } from 'sequelize';
import type { Logger } from '../../shared/logger';
import { StockReservation, type IntegrityProblem, type IntegrityReport } from '../inventory';
import { releaseAndClose, repairStory } from './close';
import { registeredSequelize } from '../../db/model-definition';
import { moneyMismatches } from './data/money-mismatches';
import { TERMINAL_STATUSES } from './lifecycle';
import { Order } from './models';

/**
 * The orders side of `npm run inventory:check` (inventory checks the stock columns): reservations
 * that terminal orders still hold, orders that have sat open too long, and orders whose charges
 * and refunds do not match their status. The repair releases
 * each orphaned reservation through the one close path, with its repair log row.
 */

export type OrderProblemKind = 'ORPHANED_RESERVATION' | 'STUCK_ORDER' | 'MONEY_MISMATCH';

interface Orphan {
  reservationId: string;
  orderId: string;
  orderStatus: string;
  productId: number;
  sku: string;
  quantity: number;
}

async function findOrphans(transaction?: Transaction): Promise<Orphan[]> {
  const orders = await Order.scope('terminal').findAll({
    transaction,
    attributes: ['id', 'status'],
    include: [
      { model: StockReservation.scope('active'), as: 'reservations', required: true, attributes: ['id', 'productId', 'quantity'] },
      // The SKU as the order names it: orders read their own items, not the catalog.
      { association: 'items', separate: true, attributes: ['productId', 'sku'] },
    ],
    order: [['id', 'ASC']],
  });
  return orders.flatMap((order) => {
    const skus = new Map((order.items ?? []).map((i) => [i.productId, i.sku]));
    return (order.reservations ?? []).map((r) => ({
      reservationId: r.id,
      orderId: order.id,
      orderStatus: order.status,
      productId: r.productId,
      sku: skus.get(r.productId) ?? `product ${r.productId}`,
      quantity: r.quantity,
    }));
  });
}

async function findStuck(stuckAfterMinutes: number, now: Date): Promise<Array<{ id: string; status: string; minutes: number }>> {
  const stuck = await Order.scope('open').findAll({
    attributes: ['id', 'status', 'updatedAt'],
    where: { updatedAt: { [Op.lt]: new Date(now.getTime() - stuckAfterMinutes * 60_000) } },
    order: [['updatedAt', 'ASC']],
    limit: 1000,
  });
  return stuck.map((o) => ({ id: o.id, status: o.status, minutes: Math.floor((now.getTime() - o.updatedAt.getTime()) / 60_000) }));
}

/** What closed orders still hold and which orders sat open too long; repairs nothing (see releaseOrphanedReservations). */
export async function checkOrderIntegrity(options: { stuckAfterMinutes: number }): Promise<IntegrityReport<OrderProblemKind>> {
  const problems: IntegrityProblem<OrderProblemKind>[] = [];
  for (const o of await findOrphans()) {
    problems.push({
      kind: 'ORPHANED_RESERVATION',
      message: `reservation ${o.reservationId} holds ${o.quantity} x ${o.sku} for ${o.orderStatus} order ${o.orderId}`,
      details: { reservationId: Number(o.reservationId), orderId: o.orderId, sku: o.sku, quantity: o.quantity, orderStatus: o.orderStatus },
      fixable: true,
    });
  }
  for (const s of await findStuck(options.stuckAfterMinutes, new Date())) {
    problems.push({
      kind: 'STUCK_ORDER',
      message: `order ${s.id} has been ${s.status} for ${s.minutes} minutes`,
      details: { orderId: s.id, status: s.status, minutes: s.minutes },
      // Its jobs (retries, the expiry sweeper) own it; the tool reports and does not guess.
      fixable: false,
    });
  }
  for (const m of await moneyMismatches.rows(registeredSequelize(Order), [])) {
    problems.push({
      kind: 'MONEY_MISMATCH',
      message: `${m.status} order ${m.orderId} has ${m.charges} successful charge(s) and ${m.refundStatus ? `a ${m.refundStatus} refund` : 'no refund'}`,
      details: { ...m, chargedCents: m.chargedCents === null ? null : Number(m.chargedCents), refundCents: m.refundCents === null ? null : Number(m.refundCents) },
      // Money is a person's to look at (POST /orders/:id/refund asks again for a refund given up).
      fixable: false,
    });
  }
  return { problems, repairs: [] };
}

/**
 * Releases every reservation a closed order still holds, through the one close path, with its
 * repair log row; returns one line per release. Runs inside the stock repair's transaction
 * (checkInventory's `releaseWithin`), after stock_reserved was made to count these reservations.
 */
export async function releaseOrphanedReservations(sequelize: Sequelize, transaction: Transaction, logger?: Logger): Promise<string[]> {
  const byOrder = new Map<string, Orphan[]>();
  for (const o of await findOrphans(transaction)) byOrder.set(o.orderId, [...(byOrder.get(o.orderId) ?? []), o]);
  const repairs: string[] = [];
  for (const [orderId, held] of byOrder) {
    const reservationIds = new Map(held.map((o) => [o.productId, o.reservationId]));
    const outcome = await releaseAndClose(sequelize, orderId, {
      from: TERMINAL_STATUSES,
      to: null,
      reason: null,
      respectLease: false,
      story: repairStory(reservationIds),
    }, transaction);
    if (outcome.kind !== 'closed') continue;
    for (const line of outcome.released) {
      const text = `released orphaned reservation ${reservationIds.get(line.productId)}: ${line.quantity} x ${line.sku} of ${outcome.from} order ${orderId}`;
      repairs.push(text);
      logger?.warn({ orderId, sku: line.sku, quantity: line.quantity }, text);
    }
  }
  return repairs;
}
