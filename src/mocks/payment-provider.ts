import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import Joi from 'joi';
import { listen, type RunningServer } from '../shared/http-server';

export interface PaymentMockSettings {
  failureRate: number;
  declineRate: number;
  lostResponseRate: number;
  latencyMs: number;
  /** How long a "hang" lasts; past the adapter's timeout. */
  hangMs: number;
}

interface Charge {
  id: string;
  orderId: string;
  amountCents: number;
  currency: string;
  idempotencyKey: string;
  status: 'succeeded' | 'declined';
  createdAt: string;
}

const settingsSchema = Joi.object({
  failureRate: Joi.number().min(0).max(1),
  declineRate: Joi.number().min(0).max(1),
  lostResponseRate: Joi.number().min(0).max(1),
  latencyMs: Joi.number().integer().min(0).max(60_000),
  hangMs: Joi.number().integer().min(0).max(120_000),
  down: Joi.boolean(),
}).min(1);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A payment provider that fails the way real ones do: 503s, hangs past the caller's
 * timeout, declines, and "charged, then the response was lost". A replayed
 * Idempotency-Key returns the original result and never charges again.
 */
export function buildPaymentProviderMock(initial: PaymentMockSettings): {
  app: Express;
  charges: Map<string, Charge>;
  settings: PaymentMockSettings & { down: boolean };
  /** Charge requests being answered now, and the most at once so far (how many the caller sends in parallel). */
  load: { inFlight: number; peakInFlight: number };
} {
  const settings = { ...initial, down: false };
  const byKey = new Map<string, Charge>();
  const load = { inFlight: 0, peakInFlight: 0 };
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());

  app.post('/charges', (req, res, next) => {
    load.inFlight += 1;
    load.peakInFlight = Math.max(load.peakInFlight, load.inFlight);
    res.once('close', () => (load.inFlight -= 1));
    next();
  });

  app.post('/charges', async (req, res) => {
    if (settings.latencyMs) await sleep(settings.latencyMs);
    if (settings.down) {
      res.status(503).json({ error: { code: 'provider_down', message: 'Payment provider is down' } });
      return;
    }
    const key = req.get('Idempotency-Key');
    const { orderId, amountCents, currency } = req.body ?? {};
    if (!key || typeof orderId !== 'string' || !Number.isInteger(amountCents) || typeof currency !== 'string') {
      res.status(400).json({ error: { code: 'invalid_request', message: 'Idempotency-Key, orderId, amountCents and currency are required' } });
      return;
    }
    // Faults strike before the key is looked at, as in a real provider's edge.
    const roll = Math.random();
    if (roll < settings.failureRate / 2) {
      res.status(503).json({ error: { code: 'unavailable', message: 'Temporary failure, try again' } });
      return;
    }
    if (roll < settings.failureRate) {
      await sleep(settings.hangMs);
      if (!res.headersSent && !res.writableEnded) res.status(504).json({ error: { code: 'timeout', message: 'Gateway timeout' } });
      return;
    }

    const existing = byKey.get(key);
    if (existing) {
      if (existing.status === 'declined') {
        res.status(402).json({ error: { code: 'card_declined', message: 'The card was declined' }, id: existing.id });
      } else {
        res.status(201).set('Idempotent-Replayed', 'true').json({ id: existing.id, status: existing.status });
      }
      return;
    }

    const declined = Math.random() < settings.declineRate;
    const charge: Charge = {
      id: `ch_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      orderId,
      amountCents,
      currency,
      idempotencyKey: key,
      status: declined ? 'declined' : 'succeeded',
      createdAt: new Date().toISOString(),
    };
    byKey.set(key, charge);
    if (declined) {
      res.status(402).json({ error: { code: 'card_declined', message: 'The card was declined' }, id: charge.id });
      return;
    }
    if (Math.random() < settings.lostResponseRate) {
      res.status(503).json({ error: { code: 'unavailable', message: 'Temporary failure, try again' } });
      return;
    }
    res.status(201).json({ id: charge.id, status: charge.status });
  });

  app.get('/charges', (req, res) => {
    const orderId = typeof req.query.orderId === 'string' ? req.query.orderId : undefined;
    const all = [...byKey.values()].filter((c) => !orderId || c.orderId === orderId);
    res.json({ items: all, count: all.length });
  });

  app.get('/config', (_req, res) => res.json(settings));
  app.put('/config', (req, res) => {
    const { value, error } = settingsSchema.validate(req.body);
    if (error) {
      res.status(400).json({ error: { code: 'VALIDATION_FAILED', message: error.message } });
      return;
    }
    Object.assign(settings, value);
    res.json(settings);
  });
  app.get('/load', (_req, res) => res.json(load));
  app.get('/health', (_req, res) => res.json({ status: 'ok' }));
  app.use((_req, res) => res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such route' } }));

  return { app, charges: byKey, settings, load };
}

export async function startPaymentProviderMock(
  settings: PaymentMockSettings,
  port: number,
  host = '127.0.0.1',
): Promise<RunningServer> {
  const { app } = buildPaymentProviderMock(settings);
  return listen(app, port, host);
}
