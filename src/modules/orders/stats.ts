import { registeredSequelize } from '../../db/model-definition';
import { ordersPerMinute } from './data/orders-per-minute';
import { isTerminal, type TerminalStatus } from './lifecycle';
import { Order } from './models';

/** Where the orders created in one minute are now. */
export interface MinuteBucket {
  minute: string;
  completed: number;
  failed: number;
  cancelled: number;
  refunded: number;
  open: number;
}

export interface OrderStats {
  /** The last 60 minutes, oldest first, every minute present. */
  perMinute: MinuteBucket[];
  lastHour: { created: number; completed: number; failed: number; cancelled: number; refunded: number; open: number };
  inFlight: { pending: number; reserved: number };
}

/**
 * Orders created in each of the last 60 minutes, split by where they are now (completed,
 * failed, cancelled, refunded, or still open), the hour's totals, and how many orders are open now.
 */
export async function orderStats(): Promise<OrderStats> {
  const rows = await ordersPerMinute.rows(registeredSequelize(Order), []);
  const nowMinute = new Date(rows[0].nowMinute).getTime();
  const perMinute: MinuteBucket[] = [];
  const index = new Map<number, MinuteBucket>();
  for (let i = 59; i >= 0; i -= 1) {
    const at = nowMinute - i * 60_000;
    const bucket = { minute: new Date(at).toISOString(), completed: 0, failed: 0, cancelled: 0, refunded: 0, open: 0 };
    perMinute.push(bucket);
    index.set(at, bucket);
  }
  const lastHour = { created: 0, completed: 0, failed: 0, cancelled: 0, refunded: 0, open: 0 };
  for (const row of rows) {
    if (!row.minute || !row.status) continue;
    const bucket = index.get(new Date(row.minute).getTime());
    if (!bucket) continue;
    const outcome: TerminalStatus | 'open' = isTerminal(row.status) ? row.status : 'open';
    const count = Number(row.count);
    bucket[outcome] += count;
    lastHour[outcome] += count;
    lastHour.created += count;
  }
  // On the partial index of open orders.
  const inFlight = { pending: 0, reserved: 0 };
  for (const row of await Order.scope('open').count({ group: ['status'] })) {
    if (row.status === 'pending' || row.status === 'reserved') inFlight[row.status] = Number(row.count);
  }
  return { perMinute, lastHour, inFlight };
}
