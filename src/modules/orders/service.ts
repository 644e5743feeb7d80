import { createHash, randomUUID } from 'node:crypto';
import { QueryTypes, UniqueConstraintError } from 'sequelize';
import type { AppContext } from '../../context';
import { AppError } from '../../shared/errors';
import { QUEUES } from '../../queue/queues';
import { metrics, recordOrderFinished } from '../../observability/metrics';
import { releaseStock } from '../inventory';
import { transitionOrder, type OrderLogEntry } from './order-log';
import { OrderRepository, type OrderItemRow, type OrderLogRow, type OrderRow, type PaymentRow } from './repository';
import type { CreateOrderInput, ListOrdersQuery } from './schemas';
import { decodeCursor, encodeCursor } from '../../shared/cursor';

export interface OrderItemView {
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
}

export interface OrderView {
  id: string;
  status: string;
  customerId: string;
  currency: string;
  totalCents: number;
  items: OrderItemView[];
  createdAt: string;
  updatedAt?: string;
  failureReason?: string | null;
  paymentAttempts?: number;
}

export interface CreateOrderResult {
  order: OrderView;
  replayed: boolean;
}

/** One requested line as the intake statement sees it; product fields are null when unknown. */
interface IntakeLine {
  ord: number;
  asked: string;
  quantity: number;
  id: number | null;
  sku: string | null;
  name: string | null;
  price_cents: number | null;
  currency: string | null;
  available: number | null;
  order_created_at: Date | null;
}

/**
 * $1 order id, $2 customer, $3 requested currency, $4 idempotency key, $5 request hash,
 * $6 request id, $7 lines [{ord, sku, product_id, quantity}]. Inserts nothing unless every
 * product exists, there is one currency (the requested one, if any) and stock looks sufficient.
 */
const INTAKE_SQL = `
  WITH req AS (
    SELECT * FROM jsonb_to_recordset($7::jsonb) AS r(ord int, sku text, product_id int, quantity int)
  ), lines AS (
    SELECT r.ord, COALESCE(r.sku, r.product_id::text) AS asked, r.quantity, p.id, p.sku, p.name, p.price_cents, p.currency,
           p.stock_on_hand - p.stock_reserved AS available
    FROM req r
    LEFT JOIN "Products" p ON p.id = COALESCE(r.product_id, (SELECT id FROM "Products" WHERE sku = r.sku))
  ), verdict AS (
    SELECT bool_and(id IS NOT NULL AND available >= quantity) AND count(DISTINCT currency) = 1 AND count(DISTINCT id) = count(*)
             AND ($3::text IS NULL OR bool_and(currency = $3::text)) AS ok,
           min(currency) AS currency, sum(quantity * price_cents) AS total,
           string_agg(quantity || ' x ' || sku, ', ' ORDER BY ord) AS summary,
           jsonb_agg(jsonb_build_object('sku', sku, 'quantity', quantity, 'unitPriceCents', price_cents) ORDER BY ord) AS items
    FROM lines
  ), o AS (
    INSERT INTO "Orders" (id, customer_id, status, total_cents, currency, idempotency_key, request_hash, request_id)
    SELECT $1, $2, 'pending', total, currency, $4, $5, $6 FROM verdict WHERE ok
    RETURNING id, created_at
  ), i AS (
    INSERT INTO "Order_Items" (order_id, product_id, sku, name, quantity, unit_price_cents)
    SELECT o.id, l.id, l.sku, l.name, l.quantity, l.price_cents FROM o, lines l
  ), log AS (
    INSERT INTO "Order_Logs" (order_id, event, to_status, message, details, request_id)
    SELECT o.id, 'ORDER_CREATED', 'pending',
           'Order accepted for ' || $2 || ': ' || v.summary || ', total ' || v.total || ' ' || v.currency,
           jsonb_build_object('items', v.items, 'totalCents', v.total, 'currency', v.currency, 'idempotencyKey', $4::text), $6
    FROM o, verdict v
  )
  SELECT l.*, (SELECT created_at FROM o) AS order_created_at FROM lines l ORDER BY l.ord`;

/** Why the intake statement wrote nothing, as the client should hear it. */
function refusal(input: CreateOrderInput, lines: IntakeLine[]): AppError {
  const unknown = lines.filter((l) => l.id === null).map((l) => input.items[l.ord].sku ?? input.items[l.ord].productId);
  if (unknown.length) {
    return new AppError('UNKNOWN_PRODUCT', `Unknown product${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, { unknown });
  }
  const ids = lines.map((l) => l.id);
  const repeated = lines.filter((l, i) => ids.indexOf(l.id) !== i);
  if (repeated.length) {
    return new AppError('VALIDATION_FAILED', 'The request is not valid', repeated.map((l) => ({
      path: `items.${l.ord}`,
      message: `${l.sku} appears twice (once by sku, once by productId); send it once with the total quantity`,
    })));
  }
  const currencies = [...new Set(lines.map((l) => l.currency!))];
  const currency = input.currency ?? currencies[0];
  if (currencies.length > 1 || currencies[0] !== currency) {
    return new AppError('CURRENCY_MISMATCH', `Products are priced in ${currencies.join(', ')}; the order asks for ${currency}`, {
      productCurrencies: currencies,
      requested: currency,
    });
  }
  // A fast refusal only; the reservation job makes the real decision under row locks.
  const short = lines
    .filter((l) => l.available! < l.quantity)
    .map((l) => ({ sku: l.sku!, requested: l.quantity, available: Math.max(0, l.available!) }));
  return new AppError('INSUFFICIENT_STOCK', `Not enough stock for ${short.map((s) => s.sku).join(', ')}`, short);
}

/** Same body, same hash: key order and whitespace do not matter. */
function requestHash(input: CreateOrderInput): string {
  const canonical = {
    customerId: input.customerId,
    currency: input.currency ?? null,
    items: input.items.map((i) => ({ sku: i.sku ?? null, productId: i.productId ?? null, quantity: i.quantity })),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

export function toLogView(row: OrderLogRow) {
  return {
    id: Number(row.id),
    event: row.event,
    fromStatus: row.from_status,
    toStatus: row.to_status,
    attempt: row.attempt,
    message: row.message,
    details: row.details,
    jobId: row.job_id,
    requestId: row.request_id,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

function toPaymentView(row: PaymentRow) {
  return {
    attempt: row.attempt,
    outcome: row.outcome,
    chargeId: row.provider_charge_id,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    amountCents: Number(row.amount_cents),
    currency: row.currency,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

function toOrderView(order: OrderRow, items: OrderItemRow[]): OrderView {
  return {
    id: order.id,
    status: order.status,
    customerId: order.customer_id,
    currency: order.currency,
    totalCents: Number(order.total_cents),
    failureReason: order.failure_reason,
    paymentAttempts: order.payment_attempts,
    items: items.map((i) => ({ sku: i.sku, name: i.name, quantity: i.quantity, unitPriceCents: i.unit_price_cents })),
    createdAt: new Date(order.created_at).toISOString(),
    updatedAt: new Date(order.updated_at).toISOString(),
  };
}

/** The 202 body as first answered: what a replay with the same Idempotency-Key gets back. */
function acceptedView(order: OrderRow, items: OrderItemRow[]): OrderView {
  const { id, customerId, currency, totalCents, items: itemViews, createdAt } = toOrderView(order, items);
  return { id, status: 'pending', customerId, currency, totalCents, items: itemViews, createdAt };
}

const orderCursor = (row: OrderRow) => encodeCursor([row.cursor_ts, row.id]);
const readOrderCursor = (cursor: string) =>
  decodeCursor(cursor, ([createdAt, id]) =>
    typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id)
      ? { createdAt, id }
      : null,
  );

export class OrderService {
  private readonly orders: OrderRepository;

  constructor(private readonly ctx: AppContext) {
    this.orders = new OrderRepository(ctx.sequelize);
  }

  /**
   * Accepts an order: order, items, ORDER_CREATED log and the reservation job are written
   * in one transaction, so there is never an order without a job or a job without an order.
   */
  async create(input: CreateOrderInput, meta: { idempotencyKey?: string; requestId?: string }): Promise<CreateOrderResult> {
    const hash = requestHash(input);
    if (meta.idempotencyKey) {
      const existing = await this.orders.findByIdempotencyKey(input.customerId, meta.idempotencyKey);
      if (existing) return this.replay(existing, hash);
    }

    const orderId = randomUUID();
    const requested = input.items.map((item, ord) => ({ ord, sku: item.sku ?? null, product_id: item.productId ?? null, quantity: item.quantity }));

    try {
      const { row, lines } = await this.ctx.sequelize.transaction(async (transaction) => {
        // One statement reads the prices, checks the order and, only when it passes, writes the
        // order, its items and its ORDER_CREATED log; the job follows in the same transaction.
        const lines = await this.ctx.sequelize.query<IntakeLine>(INTAKE_SQL, {
          bind: [orderId, input.customerId, input.currency ?? null, meta.idempotencyKey ?? null, hash, meta.requestId ?? null, JSON.stringify(requested)],
          transaction,
          type: QueryTypes.SELECT,
        });
        const row = lines[0]?.order_created_at ? lines[0] : null;
        if (!row) throw refusal(input, lines);
        await this.ctx.queue.send(QUEUES.ORDER_RESERVE, { orderId, requestId: meta.requestId }, { transaction });
        return { row, lines };
      });
      const totalCents = lines.reduce((sum, l) => sum + l.quantity * l.price_cents!, 0);
      this.ctx.queue.notify(QUEUES.ORDER_RESERVE);
      metrics.ordersCreated.inc();
      this.ctx.logger.info({ orderId, requestId: meta.requestId, customerId: input.customerId, totalCents }, 'order accepted');
      const order: OrderView = {
        id: orderId,
        status: 'pending',
        customerId: input.customerId,
        currency: row.currency!,
        totalCents,
        items: lines.map((l) => ({ sku: l.sku!, name: l.name!, quantity: l.quantity, unitPriceCents: l.price_cents! })),
        createdAt: new Date(row.order_created_at!).toISOString(),
      };
      return { order, replayed: false };
    } catch (error) {
      // Another request with the same key won the race: answer as a replay of it.
      if (error instanceof UniqueConstraintError && meta.idempotencyKey) {
        const winner = await this.orders.findByIdempotencyKey(input.customerId, meta.idempotencyKey);
        if (winner) return this.replay(winner, hash);
      }
      throw error;
    }
  }

  private async replay(existing: OrderRow, hash: string): Promise<CreateOrderResult> {
    if (existing.request_hash !== hash) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different request body', {
        orderId: existing.id,
      });
    }
    return { order: acceptedView(existing, await this.orders.items(existing.id)), replayed: true };
  }

  async get(orderId: string, customerId?: string) {
    const order = await this.orders.findById(orderId);
    if (!order || (customerId && order.customer_id !== customerId)) throw new AppError('ORDER_NOT_FOUND', `No order ${orderId}`);
    const [items, payments, logs] = await Promise.all([
      this.orders.items(orderId),
      this.orders.payments(orderId),
      this.orders.logs(orderId),
    ]);
    return {
      ...toOrderView(order, items),
      payments: payments.map(toPaymentView),
      timeline: logs.map(toLogView),
    };
  }

  async logs(orderId: string, customerId?: string) {
    const order = await this.orders.findById(orderId);
    if (!order || (customerId && order.customer_id !== customerId)) throw new AppError('ORDER_NOT_FOUND', `No order ${orderId}`);
    return (await this.orders.logs(orderId)).map(toLogView);
  }

  async list(query: ListOrdersQuery) {
    const rows = await this.orders.list({
      customerId: query.customerId,
      status: query.status,
      limit: query.limit,
      after: query.cursor ? readOrderCursor(query.cursor) : undefined,
    });
    const page = rows.slice(0, query.limit);
    const items = await this.itemsOf(page.map((r) => r.id));
    return {
      orders: page.map((row) => toOrderView(row, items.get(row.id) ?? [])),
      nextCursor: rows.length > query.limit ? orderCursor(page[page.length - 1]) : null,
    };
  }

  private async itemsOf(orderIds: string[]): Promise<Map<string, OrderItemRow[]>> {
    const byOrder = new Map<string, OrderItemRow[]>();
    if (!orderIds.length) return byOrder;
    const rows = await this.ctx.sequelize.query<OrderItemRow>(
      `SELECT order_id, product_id, sku, name, quantity, unit_price_cents
       FROM "Order_Items" WHERE order_id = ANY($1::uuid[]) ORDER BY id`,
      { bind: [orderIds], type: QueryTypes.SELECT },
    );
    for (const row of rows) byOrder.set(row.order_id, [...(byOrder.get(row.order_id) ?? []), row]);
    return byOrder;
  }

  /** Cancels a pending or reserved order and releases its stock; cancelling twice is harmless. */
  async cancel(orderId: string, meta: { requestId?: string; customerId?: string }) {
    await this.ctx.sequelize.transaction(async (transaction) => {
      const order = await this.orders.findById(orderId, transaction, true);
      if (!order || (meta.customerId && order.customer_id !== meta.customerId)) throw new AppError('ORDER_NOT_FOUND', `No order ${orderId}`);
      if (order.status === 'cancelled') return;
      if (order.status !== 'pending' && order.status !== 'reserved') {
        throw new AppError('ORDER_NOT_CANCELLABLE', `The order is ${order.status} and can no longer be cancelled`, { status: order.status });
      }
      if (order.payment_lease_until && new Date(order.payment_lease_until) > new Date()) {
        throw new AppError('ORDER_NOT_CANCELLABLE', 'A payment attempt for this order is in progress; try again in a few seconds', {
          status: order.status,
          paymentInProgress: true,
        });
      }
      const released = await releaseStock(this.ctx.sequelize, orderId, transaction);
      const entries: OrderLogEntry[] = [];
      if (released.length) {
        entries.push({
          event: 'STOCK_RELEASED',
          message: `Released ${released.map((l) => `${l.quantity} x ${l.sku}`).join(', ')} (order cancelled)`,
          details: { lines: released },
          requestId: meta.requestId,
        });
      }
      entries.push({
        event: 'ORDER_CANCELLED',
        fromStatus: order.status,
        toStatus: 'cancelled',
        message: `Order cancelled by request while ${order.status}`,
        requestId: meta.requestId,
      });
      await transitionOrder(this.ctx.sequelize, { orderId, from: order.status, to: 'cancelled' }, entries, transaction);
      transaction.afterCommit(() => recordOrderFinished('cancelled', null, order.created_at));
      this.ctx.logger.info({ orderId, requestId: meta.requestId, from: order.status }, 'order cancelled');
    });
    return this.get(orderId, meta.customerId);
  }
}
