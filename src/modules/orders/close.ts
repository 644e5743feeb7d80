import type { Sequelize, Transaction } from 'sequelize';
import { releaseStock, type SettledLine } from '../inventory';
import { type FailureReason, type OrderStatus, type TerminalStatus } from './lifecycle';
import { lockForClose } from './data/lock-for-close';
import { appendOrderLogs, transitionOrder, type OrderLogEntry } from './order-log';

/**
 * The one way an order gives its stock back: cancel, a decline, the last failed attempt, the
 * expiry sweeper, the dead-letter worker and the repair tool all come here. In one transaction:
 * lock the order, check it may be closed from where it is, release its active reservations
 * (inventory), then change its status with a conditional update and write its story (or, for an
 * order that is already terminal, only write the story).
 */


/** What an afterClose hook learns of the order it closed. */
export interface ClosedOrder {
  orderId: string;
  from: OrderStatus;
  paymentAttempts: number;
}

export interface Closing {
  /** The statuses the order may be closed from; in any other it is left alone. */
  from: readonly OrderStatus[];
  /** The status it moves to; null when it is already terminal and only its stock is released (repair). */
  to: Extract<TerminalStatus, 'failed' | 'cancelled'> | null;
  reason: FailureReason | null;
  /** Leave the order alone while a charge attempt holds its payment lease (false only for that attempt itself). */
  respectLease: boolean;
  /** When set, an order of another customer counts as missing. */
  customerId?: string;
  /** The log rows, given the status the order is leaving and the stock released. */
  story(from: OrderStatus, released: SettledLine[]): OrderLogEntry[];
  /** Runs in the closing transaction once the order is closed (what must happen with it, durably). */
  afterClose?(closed: ClosedOrder, transaction: Transaction): Promise<void>;
}

export type CloseOutcome =
  | { kind: 'closed'; from: OrderStatus; released: SettledLine[] }
  | { kind: 'missing' }
  | { kind: 'left_alone'; status: OrderStatus }
  | { kind: 'lease_held'; status: OrderStatus };

export async function releaseAndClose(
  sequelize: Sequelize,
  orderId: string,
  closing: Closing,
  outer?: Transaction,
): Promise<CloseOutcome> {
  const work = async (transaction: Transaction): Promise<CloseOutcome> => {
    const order = await lockForClose.one(sequelize, [orderId], transaction);
    if (!order || (closing.customerId !== undefined && order.customerId !== closing.customerId)) return { kind: 'missing' };
    const from = order.status;
    if (!closing.from.includes(from)) return { kind: 'left_alone', status: from };
    if (closing.respectLease && order.leaseHeld) return { kind: 'lease_held', status: from };

    const released = await releaseStock(sequelize, orderId, transaction);
    const entries = closing.story(from, released);
    if (closing.to === null) {
      await appendOrderLogs(sequelize, orderId, entries, transaction);
    } else {
      // The order row is locked above, so it is still in `from`: this cannot miss.
      const createdAt = await transitionOrder(sequelize, { orderId, from, to: closing.to, reason: closing.reason }, entries, transaction);
      if (!createdAt) throw new Error(`order ${orderId} left ${from} while locked`);
    }
    await closing.afterClose?.({ orderId, from, paymentAttempts: order.paymentAttempts }, transaction);
    return { kind: 'closed', from, released };
  };
  return outer ? work(outer) : sequelize.transaction(work);
}

const releasedList = (lines: SettledLine[]) => lines.map((l) => `${l.quantity} x ${l.sku}`).join(', ');

/** The story of a cancel: STOCK_RELEASED (when something was held), ORDER_CANCELLED. */
export const cancelStory = (requestId?: string) => (from: OrderStatus, released: SettledLine[]): OrderLogEntry[] => [
  ...(released.length
    ? [{
        event: 'STOCK_RELEASED' as const,
        message: `Released ${releasedList(released)} (order cancelled)`,
        details: { lines: released },
        requestId,
      }]
    : []),
  {
    event: 'ORDER_CANCELLED',
    fromStatus: from,
    toStatus: 'cancelled',
    message: `Order cancelled by request while ${from}`,
    requestId,
  },
];

/**
 * The story of a reserved order that failed: the reason's own event (expired, retries
 * exhausted), STOCK_RELEASED (always, even with nothing left to release), ORDER_FAILED.
 */
export const failStory = (reason: FailureReason, jobId?: string) => (from: OrderStatus, released: SettledLine[]): OrderLogEntry[] => {
  const entries: OrderLogEntry[] = [];
  if (reason === 'RESERVATION_EXPIRED') {
    entries.push({ event: 'RESERVATION_EXPIRED', message: 'The reservation expired before payment finished', jobId });
  }
  if (reason === 'PAYMENT_RETRIES_EXHAUSTED') {
    entries.push({ event: 'PAYMENT_RETRIES_EXHAUSTED', message: 'Every payment attempt failed; giving up', jobId });
  }
  entries.push(
    {
      event: 'STOCK_RELEASED',
      message: released.length ? `Released ${releasedList(released)}` : 'No active reservation to release',
      details: { lines: released, reason },
      jobId,
    },
    {
      event: 'ORDER_FAILED',
      fromStatus: from,
      toStatus: 'failed',
      message: `Order failed: ${reason}`,
      details: { reason },
      jobId,
    },
  );
  return entries;
};

/**
 * The story of a repair (`inventory:check --fix`): one STOCK_RELEASED per reservation a terminal
 * order still held; `reservationIds` maps a product to its reservation (one per order and product).
 */
export const repairStory = (reservationIds: ReadonlyMap<number, string>) => (from: OrderStatus, released: SettledLine[]): OrderLogEntry[] =>
  released.map((line) => ({
    event: 'STOCK_RELEASED',
    message: `Repair: released ${line.quantity} x ${line.sku} left reserved after the order was ${from}`,
    details: { repair: true, reservationId: Number(reservationIds.get(line.productId)) },
  }));
