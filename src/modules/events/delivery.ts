import ipaddr from 'ipaddr.js';
import { Agent, request } from 'undici';
import type { AppContext } from '../../context';
import { grouped } from '../../shared/grouped';
import { deliveriesToSend, type DeliveryToSend } from './data/deliveries-to-send';
import { recordAttempts, type AttemptRecord } from './data/record-attempts';
import { eventPayload } from './outbox';
import { signatureHeader } from './signature';
import { AddressNotAllowedError, guardedLookup, isPublicAddress } from './url-guard';
import { annotate } from '../../observability/traces';

/** A failed attempt that another follows: thrown so pg-boss retries the job with its backoff. */
export class DeliveryRetryError extends Error {
  constructor(readonly deliveryId: string, readonly reason: string) {
    super(`webhook delivery ${deliveryId} failed (${reason}); it will be retried`);
    this.name = 'DeliveryRetryError';
  }
}

/** Delivery jobs that start within this of each other share one read and one write. */
const GROUP_WINDOW_MS = 20;
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * One delivery attempt per job: POST the event, signed, to the endpoint; record the attempt; on a
 * failure that is not the last, throw so pg-boss retries with exponential backoff. Attempts that
 * run together read their deliveries in one statement and record their outcomes in another, so a
 * burst of events costs the database little more than the jobs themselves.
 */
export class WebhookSender {
  private readonly load: (deliveryId: string) => Promise<DeliveryToSend | null>;
  private readonly record: (attempt: AttemptRecord) => Promise<void>;
  private readonly agent: Agent;

  constructor(private readonly ctx: AppContext) {
    const { sequelize, config } = ctx;
    const group = { windowMs: GROUP_WINDOW_MS, maxSize: 250 };
    this.load = grouped(async (ids: readonly string[]) => {
      const rows = new Map((await deliveriesToSend.rows(sequelize, [[...ids]])).map((r) => [r.deliveryId, r]));
      return ids.map((id) => rows.get(id) ?? null);
    }, group);
    this.record = grouped(async (attempts: readonly AttemptRecord[]) => {
      await recordAttempts.rows(sequelize, [JSON.stringify(attempts), config.webhooks.disableAfterFailures]);
      return attempts.map(() => undefined);
    }, group);
    // undici (Node's own HTTP client) rather than axios: a delivery is one small POST, and axios' per-request
    // work was half of a delivery's CPU. Connections are kept alive per receiver (a TLS handshake costs more
    // than the POST); redirects are never followed.
    this.agent = new Agent({
      connections: 50,
      headersTimeout: config.webhooks.timeoutMs,
      bodyTimeout: config.webhooks.timeoutMs,
      connectTimeout: config.webhooks.timeoutMs,
      ...(config.webhooks.allowPrivate ? {} : { connect: { lookup: guardedLookup } }),
    });
  }

  /** Runs one delivery job; `retryCount` is pg-boss's count of this job's earlier tries. */
  async deliver(deliveryId: string, options: { retryCount: number; manual: boolean }): Promise<void> {
    const delivery = await this.load(deliveryId);
    // Gone with its endpoint, or settled by an earlier run of this job.
    if (!delivery || delivery.status !== 'pending') return;
    const { webhooks } = this.ctx.config;
    const attempt = delivery.attempts + 1;
    const final = options.manual || attempt >= webhooks.maxAttempts;

    const started = Date.now();
    const outcome = delivery.enabled ? await this.post(delivery) : { httpStatus: null, error: 'the endpoint is disabled' };
    const durationMs = Date.now() - started;
    const delivered = outcome.error === null;
    const nextRetryAt = delivered || final ? null : new Date(Date.now() + webhooks.retryDelaySeconds * 1000 * 2 ** options.retryCount);

    await this.record({
      delivery_id: deliveryId,
      outcome: delivered ? 'delivered' : 'failed',
      http_status: outcome.httpStatus,
      duration_ms: durationMs,
      error: outcome.error,
      next_retry_at: nextRetryAt?.toISOString() ?? null,
      final: !delivered && final,
    });
    annotate({
      'webhook.delivery_id': deliveryId, 'webhook.endpoint_id': delivery.endpointId, 'webhook.event_id': delivery.eventId, 'webhook.event_type': delivery.type,
      'webhook.attempt': attempt, 'webhook.outcome': delivered ? 'delivered' : final ? 'failed' : 'retry',
      ...(outcome.httpStatus ? { 'http.response.status_code': outcome.httpStatus } : {}),
    });
    const log = this.ctx.logger.child({ deliveryId, endpointId: delivery.endpointId, eventId: delivery.eventId, eventType: delivery.type, attempt });
    if (delivered) {
      log.debug({ durationMs, httpStatus: outcome.httpStatus }, 'webhook delivered');
      return;
    }
    if (final) {
      log.warn({ durationMs, httpStatus: outcome.httpStatus, error: outcome.error }, 'webhook delivery failed for good');
      return;
    }
    log.info({ durationMs, httpStatus: outcome.httpStatus, error: outcome.error, nextRetryAt }, 'webhook delivery failed; will retry');
    throw new DeliveryRetryError(deliveryId, outcome.error!);
  }

  /** The POST itself: `error` is null for a 2xx, otherwise a short account the endpoint's owner may read. */
  private async post(delivery: DeliveryToSend): Promise<{ httpStatus: number | null; error: string | null }> {
    const body = JSON.stringify(eventPayload({ ...delivery, id: delivery.eventId }));
    if (!this.ctx.config.webhooks.allowPrivate) {
      // An address written as a literal is connected to without any lookup: judge it here.
      const host = new URL(delivery.url).hostname.replace(/^\[(.*)\]$/, '$1');
      if (ipaddr.isValid(host) && !isPublicAddress(host)) return { httpStatus: null, error: describeFailure(new AddressNotAllowedError(host), this.ctx.config.webhooks.timeoutMs) };
    }
    try {
      const res = await request(delivery.url, {
        method: 'POST',
        dispatcher: this.agent,
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'orderloop-webhooks',
          'orderloop-event-id': delivery.eventId,
          'orderloop-event-type': delivery.type,
          'orderloop-signature': signatureHeader(delivery.secret, body),
        },
      });
      // Read past the answer (the connection is then free for the next delivery); its content is not kept.
      await res.body.dump({ limit: MAX_RESPONSE_BYTES });
      const status = res.statusCode;
      return status >= 200 && status < 300 ? { httpStatus: status, error: null } : { httpStatus: status, error: `HTTP ${status}` };
    } catch (error) {
      return { httpStatus: null, error: describeFailure(error, this.ctx.config.webhooks.timeoutMs) };
    }
  }
}

/** A failure as the endpoint's owner reads it: what happened, never a library's message or a stack. */
function describeFailure(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  switch (code) {
    case 'ADDRESS_NOT_ALLOWED':
      return 'the receiver\'s address is not a public one (loopback, private and link-local addresses are refused)';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return `no answer within ${timeoutMs} ms`;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection closed before an answer';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    default:
      return code ? `request failed (${code})` : 'request failed';
  }
}
