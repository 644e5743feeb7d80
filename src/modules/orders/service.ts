import { createHash, randomUUID } from 'node:crypto';
import { Op, UniqueConstraintError, cast, col, type Includeable, type WhereOptions } from 'sequelize';
import type { AppContext } from '../../context';
import { AppError } from '../../shared/errors';
import { QUEUES } from '../../queue/queues';
import { metrics } from '../../observability/metrics';
import { currentTraceparent, inSpan, linkTo } from '../../observability/traces';
import { PAYMENT_VIEW_ATTRIBUTES, REFUND_VIEW_ATTRIBUTES } from '../payments';
import { decodeCursor, encodeCursor } from '../../shared/cursor';
import { grouped } from '../../shared/grouped';
import { cancelStory, releaseAndClose } from './close';
import { intake, type IntakeLine, type IntakeOrder } from './data/intake';
import { OPEN_STATUSES, TRANSITIONS, isTerminal, type OrderStatus } from './lifecycle';
import type { OrderSnapshot } from '../events';
import { RefundFlow } from './refund';
import { checkForLateChargeAfterClose } from './late-charge';
import { Order } from './models';
import type { CreateOrderInput, ListOrdersQuery } from './schemas';
import { acceptedView, logViewFor, toOrderDetailView, toOrderView, type OrderView, type ViewAudience } from './views';

export type { OrderView, OrderItemView } from './views';

/** Only an admin client reads orders without a customer scope, and only it sees a payment failure's technical detail. */
const audienceOf = (customerId: string | undefined): ViewAudience => (customerId === undefined ? 'admin' : 'customer');

export interface CreateOrderResult {
  order: OrderView;
  replayed: boolean;
}

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

// hasMany includes as separate queries (run in parallel): one join would multiply items by payments by log rows.
const ITEMS: Includeable = { association: 'items', separate: true, order: [['id', 'ASC']] };
const PAYMENTS: Includeable = { association: 'payments', separate: true, order: [['attempt', 'ASC']], attributes: [...PAYMENT_VIEW_ATTRIBUTES] };
const REFUNDS: Includeable = { association: 'refunds', separate: true, attributes: ['orderId', ...REFUND_VIEW_ATTRIBUTES] };
const LOGS: Includeable = { association: 'logs', separate: true, order: [['id', 'ASC']] };
/** An order that keeps changing while it is read is answered as the last read saw it. */
const VISIBLE_READS = 3;

/**
 * The list cursor is the last row's (created_at, id), created_at in the database's own text
 * form: a JS Date would drop its microseconds and skip rows created within the same millisecond.
 */
const CURSOR_TS = 'cursorTs';
const orderCursor = (row: Order) => encodeCursor([row.get(CURSOR_TS), row.id]);
const readOrderCursor = (cursor: string) =>
  decodeCursor(cursor, ([createdAt, id]) =>
    typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id)
      ? { createdAt, id }
      : null,
  );

/** One order for the intake statement, and the reserve job it needs when written. */
interface IntakeRequest {
  orderId: string;
  requestId?: string;
  /** The request's trace, which the order's row and jobs carry on. */
  traceparent?: string;
  order: IntakeOrder;
}

/** How long an order waits for others to share its transaction (and its commit). */
const GROUP_WINDOW_MS = 1;
/** Intake transactions at once; orders due meanwhile join the next one. */
const GROUPS_IN_FLIGHT = 2;

export class OrderService {
  /**
   * Group commit: orders arriving within a millisecond share one transaction, one job insert and
   * one commit; each is still checked, written and answered on its own (see intakeGroup).
   */
  private readonly intake: (request: IntakeRequest) => Promise<IntakeLine[]>;

  constructor(private readonly ctx: AppContext) {
    this.intake = grouped((requests) => this.intakeGroup(requests), { windowMs: GROUP_WINDOW_MS, maxSize: 50, maxInFlight: GROUPS_IN_FLIGHT });
  }

  /**
   * Writes a group of orders in one transaction of four round trips: one statement reads the
   * prices, checks every order and writes those that pass, each with its items and its
   * ORDER_CREATED log (an order that does not pass writes nothing and leaves the others alone);
   * then one insert enqueues the reserve jobs of the written ones. Never an order without its
   * job, nor a job without its order. Should the transaction fail (say, a race on an idempotency
   * key), each order is tried again in a transaction of its own, so one cannot fail its neighbours.
   */
  private async intakeGroup(requests: readonly IntakeRequest[]): Promise<Array<IntakeLine[] | Error>> {
    const { sequelize, queue } = this.ctx;
    const write = (group: readonly IntakeRequest[]) =>
      sequelize.transaction(async (transaction) => {
        const lines = await intake.rows(sequelize, [JSON.stringify(group.map((r) => r.order))], transaction);
        const linesByOrder = new Map<string, IntakeLine[]>(group.map((r) => [r.orderId, []]));
        for (const line of lines) linesByOrder.get(line.orderId)?.push(line);
        const results = group.map((r) => linesByOrder.get(r.orderId)!);
        const written = group.filter((_, i) => results[i][0]?.orderCreatedAt);
        await queue.sendMany(QUEUES.ORDER_RESERVE, written.map((r) => ({ orderId: r.orderId, requestId: r.requestId, traceparent: r.traceparent })), { transaction });
        return results;
      });
    let results: Array<IntakeLine[] | Error>;
    try {
      // A group's transaction serves several requests: its span is in the request's trace when
      // it serves one, else a trace of its own linked to each request's.
      const lone = requests.length === 1;
      results = await inSpan('order.intake', {
        parent: lone ? requests[0].traceparent ?? null : null,
        links: lone ? [] : requests.flatMap((r) => linkTo(r.traceparent)),
        attributes: { 'intake.orders': requests.length },
      }, () => write(requests));
    } catch (error) {
      if (requests.length === 1) return [error as Error];
      results = await Promise.all(requests.map((r) => inSpan('order.intake', { parent: r.traceparent ?? null, attributes: { 'intake.orders': 1, order_id: r.orderId } }, () => write([r])).then(([lines]) => lines, (e: Error) => e)));
    }
    if (results.some((r) => !(r instanceof Error) && r[0]?.orderCreatedAt)) queue.notify(QUEUES.ORDER_RESERVE);
    return results;
  }

  /**
   * Accepts an order: order, items, ORDER_CREATED log and the reservation job are written
   * in one transaction, so there is never an order without a job or a job without an order.
   */
  async create(input: CreateOrderInput, meta: { idempotencyKey?: string; requestId?: string }): Promise<CreateOrderResult> {
    const hash = requestHash(input);
    if (meta.idempotencyKey) {
      const existing = await this.findByIdempotencyKey(input.customerId, meta.idempotencyKey);
      if (existing) return this.replay(existing, hash);
    }

    this.refuseWhenBehind();
    const orderId = randomUUID();
    const requested = input.items.map((item, ord) => ({ ord, sku: item.sku ?? null, product_id: item.productId ?? null, quantity: item.quantity }));
    const traceparent = currentTraceparent();

    try {
      const lines = await this.intake({
        orderId,
        requestId: meta.requestId,
        traceparent,
        order: {
          order_id: orderId,
          customer_id: input.customerId,
          currency: input.currency ?? null,
          idempotency_key: meta.idempotencyKey ?? null,
          request_hash: hash,
          request_id: meta.requestId ?? null,
          traceparent: traceparent ?? null,
          lines: requested,
        },
      });
      const row = lines[0]?.orderCreatedAt ? lines[0] : null;
      if (!row) throw refusal(input, lines);
      const totalCents = lines.reduce((sum, l) => sum + l.quantity * l.priceCents!, 0);
      metrics.ordersCreated.inc();
      this.ctx.logger.info({ orderId, requestId: meta.requestId, customerId: input.customerId, totalCents }, 'order accepted');
      const order: OrderView = {
        id: orderId,
        status: 'pending',
        customerId: input.customerId,
        currency: row.currency!,
        totalCents,
        items: lines.map((l) => ({ sku: l.sku!, name: l.name!, quantity: l.quantity, unitPriceCents: l.priceCents! })),
        createdAt: new Date(row.orderCreatedAt!).toISOString(),
      };
      return { order, replayed: false };
    } catch (error) {
      // Another request with the same key won the race: answer as a replay of it.
      if (error instanceof UniqueConstraintError && meta.idempotencyKey) {
        const winner = await this.findByIdempotencyKey(input.customerId, meta.idempotencyKey);
        if (winner) return this.replay(winner, hash);
      }
      throw error;
    }
  }

  /**
   * Sheds load when the workers are so far behind that an order accepted now might not be charged
   * before its reservation expires: better a 503 the shop can retry than an order failed later
   * for orderloop's own pace.
   */
  private refuseWhenBehind(): void {
    const behind = this.ctx.queue.backlog.oldestAgeSeconds();
    const limit = this.ctx.config.orders.maxBacklogSeconds;
    if (behind <= limit) return;
    const retryAfter = Math.min(60, Math.max(1, Math.ceil(behind - limit)));
    throw new AppError(
      'SERVICE_UNAVAILABLE',
      'Orders are arriving faster than they can be processed; nothing was written, try again later',
      { backlogSeconds: Math.round(behind), maxBacklogSeconds: limit },
      { 'Retry-After': String(retryAfter) },
    );
  }

  private findByIdempotencyKey(customerId: string, idempotencyKey: string): Promise<Order | null> {
    return Order.findOne({ where: { customerId, idempotencyKey }, include: [ITEMS] });
  }

  private replay(existing: Order, hash: string): CreateOrderResult {
    if (existing.requestHash !== hash) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different request body', {
        orderId: existing.id,
      });
    }
    return { order: acceptedView(existing), replayed: true };
  }

  /** The order as a client may see it: a customer client finds only its own orders. */
  private async visible(orderId: string, customerId: string | undefined, include: Includeable[]): Promise<Order> {
    const where = { id: orderId, ...(customerId ? { customerId } : {}) };
    // The includes are read after the order row: a change committing in between (a refund
    // settling) showed a completed order with a paid refund and a story ending in ORDER_REFUNDED.
    // Every status change touches updated_at, so the answer stands once the row is read unchanged;
    // an order in a status nothing moves on from needs no second look.
    for (let read = 1; ; read += 1) {
      const order = await Order.findOne({ where, include });
      if (!order) throw new AppError('ORDER_NOT_FOUND', `No order ${orderId}`);
      if (read === VISIBLE_READS || TRANSITIONS[order.status as OrderStatus].length === 0) return order;
      const now = await Order.findByPk(orderId, { attributes: ['status', 'updatedAt'] });
      if (now?.status === order.status && now.updatedAt.getTime() === order.updatedAt.getTime()) return order;
    }
  }

  async get(orderId: string, customerId?: string) {
    return toOrderDetailView(await this.visible(orderId, customerId, [ITEMS, PAYMENTS, REFUNDS, LOGS]), audienceOf(customerId));
  }

  /** Where a live stream of the order starts: the order's own fields now and the number of its last event (one read). */
  async snapshot(orderId: string, customerId?: string): Promise<OrderSnapshot> {
    const order = await Order.findOne({ where: { id: orderId, ...(customerId ? { customerId } : {}) }, include: [ITEMS] });
    if (!order) throw new AppError('ORDER_NOT_FOUND', `No order ${orderId}`);
    return { order: { ...toOrderView(order) }, sequence: order.eventSequence, final: isTerminal(order.status) };
  }

  /** An admin's full refund of a completed order (refund.ts); the order as GET /orders/:id shows it. */
  async refund(orderId: string, options: { restock: boolean; requestId?: string }) {
    await new RefundFlow(this.ctx).request(orderId, options);
    return this.get(orderId);
  }

  async logs(orderId: string, customerId?: string) {
    return ((await this.visible(orderId, customerId, [LOGS])).logs ?? []).map(logViewFor(audienceOf(customerId)));
  }

  /** Newest first; the cursor is the (created_at, id) of the last row of the previous page. */
  async list(query: ListOrdersQuery) {
    const where: WhereOptions<Order> & Record<symbol, unknown> = {};
    if (query.customerId) where.customerId = query.customerId;
    if (query.status) where.status = query.status;
    if (query.cursor) {
      const after = readOrderCursor(query.cursor);
      const at = cast(after.createdAt, 'timestamptz');
      // (created_at, id) < (at, id), with created_at <= at first so the index scan starts at the cursor.
      Object.assign(where, {
        createdAt: { [Op.lte]: at },
        [Op.or]: [{ createdAt: { [Op.lt]: at } }, { id: { [Op.lt]: after.id } }],
      });
    }
    const rows = await Order.findAll({
      where,
      attributes: { include: [[cast(col('created_at'), 'text'), CURSOR_TS]] },
      include: [ITEMS],
      order: [['createdAt', 'DESC'], ['id', 'DESC']],
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    return {
      orders: page.map(toOrderView),
      nextCursor: rows.length > query.limit ? orderCursor(page[page.length - 1]) : null,
    };
  }

  /** Cancels a pending or reserved order and releases its stock; cancelling twice is harmless. */
  async cancel(orderId: string, meta: { requestId?: string; customerId?: string }) {
    const outcome = await releaseAndClose(this.ctx.sequelize, orderId, {
      from: OPEN_STATUSES,
      to: 'cancelled',
      reason: null,
      respectLease: true,
      customerId: meta.customerId,
      story: cancelStory(meta.requestId),
      afterClose: checkForLateChargeAfterClose(this.ctx, { requestId: meta.requestId, traceparent: currentTraceparent() }),
    });
    switch (outcome.kind) {
      case 'missing':
        throw new AppError('ORDER_NOT_FOUND', `No order ${orderId}`);
      case 'left_alone':
        if (outcome.status !== 'cancelled') {
          throw new AppError('ORDER_NOT_CANCELLABLE', `The order is ${outcome.status} and can no longer be cancelled`, { status: outcome.status });
        }
        break;
      case 'lease_held':
        throw new AppError('ORDER_NOT_CANCELLABLE', 'A payment attempt for this order is in progress; try again in a few seconds', {
          status: outcome.status,
          paymentInProgress: true,
        });
      case 'closed':
        this.ctx.logger.info({ orderId, requestId: meta.requestId, from: outcome.from }, 'order cancelled');
        break;
    }
    return this.get(orderId, meta.customerId);
  }
}
