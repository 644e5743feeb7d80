import { randomUUID } from 'node:crypto';
import { Op, cast, col, fn, type WhereOptions } from 'sequelize';
import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import { AppError } from '../../shared/errors';
import { decodeCursor, encodeCursor } from '../../shared/cursor';
import { OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint, DELIVERY_STATUSES, type DeliveryStatus } from './models';
import { publishEvents } from './outbox';
import { newSigningSecret } from './signature';
import { checkWebhookUrl } from './url-guard';
import type { CreateEndpointInput, ListDeliveriesQuery, UpdateEndpointInput } from './schemas';

/** Who asks: an admin client sees every endpoint; a customer client only its own (others are not found). */
export interface EndpointOwner {
  customerId: string | null;
}

const emptyCounts = () => Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, 0])) as Record<DeliveryStatus, number>;

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function endpointView(e: WebhookEndpoint) {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    description: e.description,
    enabled: e.enabled,
    disabledReason: e.disabledReason,
    customerId: e.customerId,
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

export function deliveryView(d: WebhookDelivery) {
  return {
    id: d.id,
    endpointId: d.endpointId,
    eventId: d.eventId,
    eventType: d.event?.type ?? null,
    orderId: d.event?.orderId ?? null,
    sequence: d.event?.sequence ?? null,
    status: d.status,
    attempts: d.attempts,
    lastHttpStatus: d.lastHttpStatus,
    lastError: d.lastError,
    nextAttemptAt: iso(d.nextAttemptAt),
    deliveredAt: iso(d.deliveredAt),
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
    attemptLog: (d.attemptLog ?? []).map((a) => ({
      attempt: a.attempt,
      outcome: a.outcome,
      httpStatus: a.httpStatus,
      durationMs: a.durationMs,
      error: a.error,
      nextRetryAt: iso(a.nextRetryAt),
      createdAt: iso(a.createdAt),
    })),
  };
}

const DELIVERY_INCLUDES = [
  { model: OutboxEvent, as: 'event', attributes: ['type', 'orderId', 'sequence'] },
  { model: WebhookAttempt, as: 'attemptLog', separate: true, order: [['attempt', 'ASC'], ['id', 'ASC']] as [string, string][] },
];

const CURSOR_TS = 'cursorTs';

/** A pending delivery whose next attempt is this late has lost its job: a retry by request may take it over. */
const STUCK_AFTER_MS = 15 * 60 * 1000;
const readCursor = (cursor: string) =>
  decodeCursor(cursor, ([createdAt, id]) =>
    typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) ? { createdAt, id } : null,
  );

/** The dashboard's webhook figures: endpoints by state, and the deliveries not yet made (pending) or given up (failed). */
export async function webhookOverview() {
  const [endpoints, unsettled] = await Promise.all([
    WebhookEndpoint.findAll({ attributes: ['enabled', [fn('count', col('id')), 'count']], group: ['enabled'], raw: true }) as unknown as Promise<Array<{ enabled: boolean; count: string }>>,
    WebhookDelivery.findAll({
      where: { status: { [Op.ne]: 'delivered' } },
      attributes: ['status', [fn('count', col('id')), 'count']],
      group: ['status'],
      raw: true,
    }) as unknown as Promise<Array<{ status: DeliveryStatus; count: string }>>,
  ]);
  const enabled = Number(endpoints.find((e) => e.enabled)?.count ?? 0);
  const disabled = Number(endpoints.find((e) => !e.enabled)?.count ?? 0);
  const count = (status: DeliveryStatus) => Number(unsettled.find((d) => d.status === status)?.count ?? 0);
  return { endpoints: enabled + disabled, enabled, disabled, deliveries: { pending: count('pending'), failed: count('failed') } };
}

/** The webhook endpoints API's use cases (routes.ts): registration, changes, test pings, deliveries and their retries. */
export class WebhookService {
  constructor(private readonly ctx: AppContext) {}

  async create(input: CreateEndpointInput, owner: EndpointOwner) {
    const url = await checkWebhookUrl(input.url, this.ctx.config.webhooks.allowPrivate);
    const endpoint = await WebhookEndpoint.create({
      id: randomUUID(),
      url,
      events: input.events,
      description: input.description ?? null,
      customerId: owner.customerId,
      secret: newSigningSecret(),
      disabledReason: null,
    });
    // The only time the secret is shown: the receiver needs it to verify signatures.
    return { ...endpointView(endpoint), secret: endpoint.secret };
  }

  /** Each endpoint with its deliveries per status (one grouped read for all of them). */
  async list(owner: EndpointOwner) {
    const endpoints = await WebhookEndpoint.findAll({ where: this.scope(owner), order: [['createdAt', 'ASC'], ['id', 'ASC']] });
    const counts = await this.countsByEndpoint(endpoints.map((e) => e.id));
    return endpoints.map((e) => ({ ...endpointView(e), deliveries: counts.get(e.id) ?? emptyCounts() }));
  }

  async get(id: string, owner: EndpointOwner) {
    const endpoint = await this.find(id, owner);
    return { ...endpointView(endpoint), deliveries: (await this.countsByEndpoint([id])).get(id) ?? emptyCounts() };
  }

  async update(id: string, input: UpdateEndpointInput, owner: EndpointOwner) {
    const endpoint = await this.find(id, owner);
    if (input.url !== undefined) endpoint.url = await checkWebhookUrl(input.url, this.ctx.config.webhooks.allowPrivate);
    if (input.events !== undefined) endpoint.events = input.events;
    if (input.description !== undefined) endpoint.description = input.description;
    if (input.enabled !== undefined) {
      endpoint.enabled = input.enabled;
      // Turned back on: its run of failures starts over.
      if (input.enabled) Object.assign(endpoint, { disabledReason: null, consecutiveFailures: 0 });
      else endpoint.disabledReason = 'Disabled by request';
    }
    await endpoint.save();
    return endpointView(endpoint);
  }

  async remove(id: string, owner: EndpointOwner): Promise<void> {
    const endpoint = await this.find(id, owner);
    await endpoint.destroy();
  }

  /** A `ping` event made for this endpoint alone, delivered like any other. */
  async ping(id: string, owner: EndpointOwner) {
    const endpoint = await this.find(id, owner);
    const { sequelize, queue } = this.ctx;
    const deliveryId = await sequelize.transaction(async (transaction) => {
      const [event] = await publishEvents(sequelize, [{ type: 'ping', data: { endpointId: endpoint.id, message: 'A test event from orderloop' } }], transaction, { dispatched: true });
      const delivery = await WebhookDelivery.create({ endpointId: endpoint.id, eventId: event.id, lastHttpStatus: null, lastError: null, nextAttemptAt: null, deliveredAt: null }, { transaction });
      await queue.send(QUEUES.WEBHOOK_DELIVER, { deliveryId: delivery.id }, { transaction });
      return delivery.id;
    });
    queue.notify(QUEUES.WEBHOOK_DELIVER);
    return this.delivery(endpoint.id, deliveryId);
  }

  /** Newest first; the cursor is the (created_at, id) of the last row of the previous page. */
  async deliveries(id: string, query: ListDeliveriesQuery, owner: EndpointOwner) {
    await this.find(id, owner);
    const where: WhereOptions<WebhookDelivery> & Record<symbol, unknown> = { endpointId: id };
    if (query.status) where.status = query.status;
    if (query.cursor) {
      const after = readCursor(query.cursor);
      const at = cast(after.createdAt, 'timestamptz');
      Object.assign(where, { createdAt: { [Op.lte]: at }, [Op.or]: [{ createdAt: { [Op.lt]: at } }, { id: { [Op.lt]: after.id } }] });
    }
    const rows = await WebhookDelivery.findAll({
      where,
      attributes: { include: [[cast(col('WebhookDelivery.created_at'), 'text'), CURSOR_TS]] },
      include: DELIVERY_INCLUDES,
      order: [['createdAt', 'DESC'], ['id', 'DESC']],
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      deliveries: page.map(deliveryView),
      nextCursor: rows.length > query.limit ? encodeCursor([last.get(CURSOR_TS), last.id]) : null,
    };
  }

  /**
   * One more attempt of a delivery, now: a settled one (failed, or delivered and wanted again), or
   * one still pending whose next attempt is long overdue (its job was lost: a crash on a job's
   * last try). A re-sent delivery that fails stays delivered; only a failure of one never made counts.
   */
  async retry(id: string, deliveryId: string, owner: EndpointOwner) {
    await this.find(id, owner);
    const { sequelize, queue } = this.ctx;
    const overdue = new Date(Date.now() - STUCK_AFTER_MS);
    await sequelize.transaction(async (transaction) => {
      const [changed] = await WebhookDelivery.update(
        { status: 'pending', nextAttemptAt: new Date() },
        {
          where: {
            id: deliveryId,
            endpointId: id,
            [Op.or]: [{ status: { [Op.ne]: 'pending' } }, { nextAttemptAt: { [Op.lt]: overdue } }],
          },
          transaction,
        },
      );
      if (!changed) {
        const existing = await WebhookDelivery.findOne({ where: { id: deliveryId, endpointId: id }, attributes: ['status'], transaction });
        if (!existing) throw new AppError('DELIVERY_NOT_FOUND', `No delivery ${deliveryId} for webhook ${id}`);
        throw new AppError('DELIVERY_PENDING', 'This delivery is still being attempted; wait for its next attempt', { status: existing.status, nextAttemptAt: null });
      }
      // One attempt, now: it settles the delivery either way. pg-boss's retries are for a worker that dies mid-attempt.
      await queue.send(QUEUES.WEBHOOK_DELIVER, { deliveryId, manual: true }, { transaction, retryLimit: 3, retryDelay: 5 });
    });
    queue.notify(QUEUES.WEBHOOK_DELIVER);
    return this.delivery(id, deliveryId);
  }

  private async delivery(endpointId: string, deliveryId: string) {
    const row = await WebhookDelivery.findOne({ where: { id: deliveryId, endpointId }, include: DELIVERY_INCLUDES });
    if (!row) throw new AppError('DELIVERY_NOT_FOUND', `No delivery ${deliveryId} for webhook ${endpointId}`);
    return deliveryView(row);
  }

  private scope(owner: EndpointOwner): WhereOptions<WebhookEndpoint> {
    return owner.customerId === null ? {} : { customerId: owner.customerId };
  }

  private async find(id: string, owner: EndpointOwner): Promise<WebhookEndpoint> {
    const endpoint = await WebhookEndpoint.findOne({ where: { id, ...this.scope(owner) } });
    if (!endpoint) throw new AppError('WEBHOOK_NOT_FOUND', `No webhook endpoint ${id}`);
    return endpoint;
  }

  /** Deliveries per endpoint and status. */
  private async countsByEndpoint(endpointIds: string[]): Promise<Map<string, Record<DeliveryStatus, number>>> {
    const byEndpoint = new Map<string, Record<DeliveryStatus, number>>();
    if (!endpointIds.length) return byEndpoint;
    const rows = (await WebhookDelivery.findAll({
      where: { endpointId: endpointIds },
      attributes: ['endpointId', 'status', [fn('count', col('id')), 'count']],
      group: ['endpointId', 'status'],
      raw: true,
    })) as unknown as Array<{ endpointId: string; status: DeliveryStatus; count: string }>;
    for (const r of rows) {
      const counts = byEndpoint.get(r.endpointId) ?? emptyCounts();
      counts[r.status] = Number(r.count);
      byEndpoint.set(r.endpointId, counts);
    }
    return byEndpoint;
  }
}
