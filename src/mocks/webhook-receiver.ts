import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Express } from 'express';
import Joi from 'joi';
import { listen, type RunningServer } from '../shared/http-server';

/**
 * A shop's webhook endpoint, for tests, chaos, bench and demos: it answers POST /hooks/* with
 * 200 and keeps what it received, or fails the way receivers do (down: the connection is dropped;
 * failNext: that many answers of failStatus; latencyMs: a slow answer). It checks each delivery's
 * Orderloop-Signature with the secret it is given, by the recipe README shows receivers.
 */
export interface WebhookReceiverSettings {
  down: boolean;
  /** The status of a refused delivery (failNext > 0). */
  failStatus: number;
  /** Refuse this many deliveries, then accept again. */
  failNext: number;
  latencyMs: number;
  /** The endpoint's signing secret; null accepts without checking (signatureValid is then null). */
  secret: string | null;
}

export interface ReceivedDelivery {
  path: string;
  eventId: string;
  type: string;
  orderId: string | null;
  sequence: number | null;
  signatureValid: boolean | null;
  body: Record<string, unknown>;
  receivedAt: string;
}

export interface WebhookReceiverStats {
  /** Every POST that reached it, answered or dropped. */
  attempts: number;
  accepted: number;
  refused: number;
  dropped: number;
}

/** README's receiver recipe: HMAC-SHA256 of "<t>.<raw body>", compared in constant time, at most `toleranceS` old. */
export function verifyOrderloopSignature(rawBody: string, header: string | undefined, secret: string, toleranceS = 300, nowS = Date.now() / 1000): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!parts.v1 || !Number.isFinite(t) || Math.abs(nowS - t) > toleranceS) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const settingsSchema = Joi.object({
  down: Joi.boolean(),
  failStatus: Joi.number().integer().min(100).max(599),
  failNext: Joi.number().integer().min(0),
  latencyMs: Joi.number().integer().min(0).max(120_000),
  secret: Joi.string().allow(null),
}).min(1);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function buildWebhookReceiver(initial: Partial<WebhookReceiverSettings> = {}) {
  const settings: WebhookReceiverSettings = { down: false, failStatus: 500, failNext: 0, latencyMs: 0, secret: null, ...initial };
  const received: ReceivedDelivery[] = [];
  const stats: WebhookReceiverStats = { attempts: 0, accepted: 0, refused: 0, dropped: 0 };
  const app: Express = express();

  app.post(/^\/hooks(\/.*)?$/, express.text({ type: '*/*', limit: '1mb' }), async (req, res) => {
    stats.attempts += 1;
    if (settings.down) {
      stats.dropped += 1;
      req.socket.destroy();
      return;
    }
    if (settings.latencyMs) await sleep(settings.latencyMs);
    if (settings.failNext > 0) {
      settings.failNext -= 1;
      stats.refused += 1;
      res.status(settings.failStatus).json({ error: 'refused by the test receiver' });
      return;
    }
    const raw = typeof req.body === 'string' ? req.body : '';
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      stats.refused += 1;
      res.status(400).json({ error: 'body is not JSON' });
      return;
    }
    const data = (body.data ?? {}) as Record<string, unknown>;
    received.push({
      path: req.path,
      eventId: String(req.get('Orderloop-Event-Id') ?? body.id),
      type: String(req.get('Orderloop-Event-Type') ?? body.type),
      orderId: typeof body.type === 'string' && body.type.startsWith('order.') ? String(data.id) : null,
      sequence: typeof body.sequence === 'number' ? body.sequence : null,
      signatureValid: settings.secret === null ? null : verifyOrderloopSignature(raw, req.get('Orderloop-Signature'), settings.secret),
      body,
      receivedAt: new Date().toISOString(),
    });
    stats.accepted += 1;
    res.status(200).json({ received: true });
  });

  app.get('/received', (req, res) => {
    const { type, orderId } = req.query as { type?: string; orderId?: string };
    const items = received.filter((r) => (!type || r.type === type) && (!orderId || r.orderId === orderId));
    res.json({ items, count: items.length, uniqueEvents: new Set(items.map((r) => r.eventId)).size, stats });
  });
  app.delete('/received', (_req, res) => {
    received.splice(0);
    Object.assign(stats, { attempts: 0, accepted: 0, refused: 0, dropped: 0 });
    res.status(204).end();
  });
  app.get('/config', (_req, res) => res.json({ ...settings, secret: settings.secret === null ? null : '(set)' }));
  app.put('/config', express.json(), (req, res) => {
    const { value, error } = settingsSchema.validate(req.body ?? {});
    if (error) {
      res.status(400).json({ error: { code: 'VALIDATION_FAILED', message: error.message, details: [] } });
      return;
    }
    Object.assign(settings, value);
    res.json({ ...settings, secret: settings.secret === null ? null : '(set)' });
  });

  return { app, settings, received, stats };
}

export type WebhookReceiver = ReturnType<typeof buildWebhookReceiver>;

export async function startWebhookReceiver(
  initial: Partial<WebhookReceiverSettings> = {},
  port = 0,
  host = '127.0.0.1',
): Promise<RunningServer & { receiver: WebhookReceiver; hookUrl: string }> {
  const receiver = buildWebhookReceiver(initial);
  const server = await listen(receiver.app, port, host);
  return Object.assign(server, { receiver, hookUrl: `${server.url}/hooks` });
}
