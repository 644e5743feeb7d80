import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

  /**
   * POST /hooks/*, on node's own http objects: the bench runs this receiver on the machine it
   * measures, so a delivery should cost it as little as a real receiver elsewhere would cost us.
   */
  const receive = async (req: IncomingMessage, res: ServerResponse) => {
    stats.attempts += 1;
    if (settings.down) {
      stats.dropped += 1;
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (settings.latencyMs) await sleep(settings.latencyMs);
    const answer = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (settings.failNext > 0) {
      settings.failNext -= 1;
      stats.refused += 1;
      return answer(settings.failStatus, { error: 'refused by the test receiver' });
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      stats.refused += 1;
      return answer(400, { error: 'body is not JSON' });
    }
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const data = (body.data ?? {}) as Record<string, unknown>;
    received.push({
      path: new URL(req.url ?? '/', 'http://receiver').pathname,
      eventId: String(header('orderloop-event-id') ?? body.id),
      type: String(header('orderloop-event-type') ?? body.type),
      orderId: typeof body.type === 'string' && body.type.startsWith('order.') ? String(data.id) : null,
      sequence: typeof body.sequence === 'number' ? body.sequence : null,
      signatureValid: settings.secret === null ? null : verifyOrderloopSignature(raw, header('orderloop-signature'), settings.secret),
      body,
      receivedAt: new Date().toISOString(),
    });
    stats.accepted += 1;
    answer(200, { received: true });
  };

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

  /** The whole receiver as one request listener: deliveries, then the control routes. */
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && /^\/hooks(\/|\?|$)/.test(req.url ?? '')) void receive(req, res);
    else app(req, res);
  };

  return { app, handle, settings, received, stats };
}

export type WebhookReceiver = ReturnType<typeof buildWebhookReceiver>;

export async function startWebhookReceiver(
  initial: Partial<WebhookReceiverSettings> = {},
  port = 0,
  host = '127.0.0.1',
): Promise<RunningServer & { receiver: WebhookReceiver; hookUrl: string }> {
  const receiver = buildWebhookReceiver(initial);
  const server = await listen(receiver.handle, port, host);
  return Object.assign(server, { receiver, hookUrl: `${server.url}/hooks` });
}
