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

interface Refund {
  id: string;
  chargeId: string;
  /** The refunded charge's order (whatever orderId the request carried). */
  orderId: string;
  amountCents: number;
  currency: string;
  idempotencyKey: string;
  status: 'succeeded';
  createdAt: string;
}

/** Every request received on the provider's money routes, whatever it was answered (503 while down included). */
export interface PaymentMockCalls {
  charges: number;
  chargeLookups: number;
  refunds: number;
  refundLookups: number;
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
const hexId = (prefix: string) => `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 24)}`;

/**
 * A payment provider that fails the way real ones do: 503s, hangs past the caller's
 * timeout, declines, and "charged, then the response was lost". A replayed
 * Idempotency-Key returns the original result and never charges (or refunds) again.
 * Refunds (`POST /refunds`) share the charges' fault model.
 */
export function buildPaymentProviderMock(initial: PaymentMockSettings): {
  app: Express;
  /** Charges by idempotency key. */
  charges: Map<string, Charge>;
  /** Refunds by idempotency key. */
  refunds: Map<string, Refund>;
  settings: PaymentMockSettings & { down: boolean };
  /**
   * Charge requests being answered now, and the most at once so far (how many the caller sends
   * in parallel); `calls` counts every request received per route.
   */
  load: { inFlight: number; peakInFlight: number; calls: PaymentMockCalls };
} {
  const settings = { ...initial, down: false };
  const byKey = new Map<string, Charge>();
  const refundsByKey = new Map<string, Refund>();
  const load = { inFlight: 0, peakInFlight: 0, calls: { charges: 0, chargeLookups: 0, refunds: 0, refundLookups: 0 } };
  const app = express();
  app.disable('x-powered-by');

  // Counted on arrival, before the body is parsed and before latency, the outage or a random failure decides the answer.
  const count = (counter: keyof PaymentMockCalls) => (_req: express.Request, _res: express.Response, next: express.NextFunction) => {
    load.calls[counter] += 1;
    next();
  };
  app.post('/charges', count('charges'));
  app.get('/charges', count('chargeLookups'));
  app.post('/refunds', count('refunds'));
  app.get('/refunds', count('refundLookups'));
  app.use(express.json());

  /** Answers 503 (half) or hangs `hangMs` then 504 (half) with probability failureRate; true when it answered. */
  const randomFailure = async (res: express.Response): Promise<boolean> => {
    const roll = Math.random();
    if (roll < settings.failureRate / 2) {
      res.status(503).json({ error: { code: 'unavailable', message: 'Temporary failure, try again' } });
      return true;
    }
    if (roll < settings.failureRate) {
      await sleep(settings.hangMs);
      if (!res.headersSent && !res.writableEnded) res.status(504).json({ error: { code: 'timeout', message: 'Gateway timeout' } });
      return true;
    }
    return false;
  };

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
    if (await randomFailure(res)) return;

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
      id: hexId('ch'),
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

  app.post('/refunds', async (req, res) => {
    if (settings.latencyMs) await sleep(settings.latencyMs);
    if (settings.down) {
      res.status(503).json({ error: { code: 'provider_down', message: 'Payment provider is down' } });
      return;
    }
    const key = req.get('Idempotency-Key');
    const { chargeId, amountCents } = req.body ?? {};
    if (!key || typeof chargeId !== 'string') {
      res.status(400).json({ error: { code: 'invalid_request', message: 'Idempotency-Key and chargeId are required' } });
      return;
    }
    if (!Number.isInteger(amountCents) || amountCents <= 0) {
      res.status(400).json({ error: { code: 'invalid_amount', message: 'amountCents must be a positive integer' } });
      return;
    }
    // Faults strike before the key is looked at, as for charges.
    if (await randomFailure(res)) return;

    const existing = refundsByKey.get(key);
    if (existing) {
      res.status(201).set('Idempotent-Replayed', 'true').json(existing);
      return;
    }
    const charge = [...byKey.values()].find((c) => c.id === chargeId);
    if (!charge) {
      res.status(404).json({ error: { code: 'charge_not_found', message: `No charge ${chargeId}` } });
      return;
    }
    if (charge.status !== 'succeeded') {
      res.status(409).json({ error: { code: 'charge_not_refundable', message: `Charge ${chargeId} is ${charge.status}` } });
      return;
    }
    const refundedSoFar = [...refundsByKey.values()].filter((r) => r.chargeId === chargeId).reduce((sum, r) => sum + r.amountCents, 0);
    if (refundedSoFar + amountCents > charge.amountCents) {
      res.status(409).json({
        error: { code: 'amount_exceeds_charge', message: `Charge ${chargeId} of ${charge.amountCents} has ${charge.amountCents - refundedSoFar} left to refund` },
      });
      return;
    }
    const refund: Refund = {
      id: hexId('re'),
      chargeId,
      orderId: charge.orderId,
      amountCents,
      currency: charge.currency,
      idempotencyKey: key,
      status: 'succeeded',
      createdAt: new Date().toISOString(),
    };
    refundsByKey.set(key, refund);
    if (Math.random() < settings.lostResponseRate) {
      res.status(503).json({ error: { code: 'unavailable', message: 'Temporary failure, try again' } });
      return;
    }
    res.status(201).json(refund);
  });

  app.get('/refunds', (req, res) => {
    const orderId = typeof req.query.orderId === 'string' ? req.query.orderId : undefined;
    const all = [...refundsByKey.values()].filter((r) => !orderId || r.orderId === orderId);
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

  return { app, charges: byKey, refunds: refundsByKey, settings, load };
}

export async function startPaymentProviderMock(
  settings: PaymentMockSettings,
  port: number,
  host = '127.0.0.1',
): Promise<RunningServer> {
  const { app } = buildPaymentProviderMock(settings);
  return listen(app, port, host);
}
