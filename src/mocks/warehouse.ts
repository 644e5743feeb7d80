import fs from 'node:fs';
import path from 'node:path';
import express, { type Express } from 'express';
import Joi from 'joi';
import { listen, type RunningServer } from '../shared/http-server';
import { SEEDERS_DIR } from '../shared/paths';

export interface WarehouseMockSettings {
  drift: boolean;
  failureRate: number;
  latencyMs: number;
}

export type MalformedMode = 'none' | 'rows' | 'body';

/** Everything `PUT /config` can change while the mock runs. */
export interface WarehouseRuntimeSettings extends WarehouseMockSettings {
  /** 'rows': the first rows of every page come back broken; 'body': every page is not JSON. */
  malformed: MalformedMode;
  /** Accept the request and never answer (the caller's timeout fires). */
  hang: boolean;
  /** Answer 503 for this page number only (null: off); shows that earlier pages stay applied. */
  failPage: number | null;
  /** How often drift changes a few quantities. */
  driftIntervalMs: number;
}

export interface WarehouseMockOptions {
  /** Seed from seeders/data/demo-catalog.json (products and warehouse-only SKUs). Default true. */
  seed?: boolean;
  driftIntervalMs?: number;
}

export interface StockLevel {
  quantity: number;
  updatedAt: string;
}

export interface WarehouseMock {
  app: Express;
  stock: Map<string, StockLevel>;
  settings: WarehouseRuntimeSettings;
  /** Sets one level (tests); returns the stored row. */
  set(sku: string, quantity: number): StockLevel;
  /** Stops the drift timer; the server's close() calls it. */
  stop(): void;
}

export interface RunningWarehouseMock extends RunningServer {
  warehouse: WarehouseMock;
}

interface DemoCatalog {
  products: Array<{ sku: string; stockOnHand: number }>;
  warehouseOnly?: Array<{ sku: string; quantity: number }>;
}

const MAX_PAGE_SIZE = 1000;
const MAX_QUANTITY = 2_147_483_647;

const quantitySchema = Joi.number().integer().min(0).max(MAX_QUANTITY).required();
const skuSchema = Joi.string().min(1).max(64).required();
const setOneSchema = Joi.object({ quantity: quantitySchema }).unknown(false);
const bulkSchema = Joi.object({
  items: Joi.array().items(Joi.object({ sku: skuSchema, quantity: quantitySchema }).unknown(false)).max(100_000).required(),
  replace: Joi.boolean().default(false),
}).unknown(false);
const pageQuerySchema = Joi.object({
  page: Joi.number().integer().min(1).default(1),
  pageSize: Joi.number().integer().min(1).max(MAX_PAGE_SIZE).default(100),
}).unknown(true);
const configSchema = Joi.object({
  failureRate: Joi.number().min(0).max(1),
  latencyMs: Joi.number().integer().min(0).max(120_000),
  drift: Joi.boolean(),
  driftIntervalMs: Joi.number().integer().min(10).max(3_600_000),
  malformed: Joi.string().valid('none', 'rows', 'body'),
  hang: Joi.boolean(),
  failPage: Joi.number().integer().min(1).allow(null),
}).min(1).unknown(false);

// Unref'd: a slow answer in progress never keeps a closed mock's process alive.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

function loadDemoCatalog(): Array<{ sku: string; quantity: number }> {
  const file = path.join(SEEDERS_DIR, 'data', 'demo-catalog.json');
  const catalog = JSON.parse(fs.readFileSync(file, 'utf8')) as DemoCatalog;
  return [
    ...catalog.products.map((p) => ({ sku: p.sku, quantity: p.stockOnHand })),
    ...(catalog.warehouseOnly ?? []).map((w) => ({ sku: w.sku, quantity: w.quantity })),
  ];
}

function badRequest(res: express.Response, message: string): void {
  res.status(400).json({ error: { code: 'VALIDATION_FAILED', message } });
}

/**
 * The warehouse system orderloop pulls stock from: an on-hand quantity per SKU, paged
 * reads sorted by SKU, writes for tests and benchmarks, drift, and faults (503s, latency,
 * hangs, malformed rows or bodies) switchable at run time through PUT /config.
 */
export function buildWarehouseMock(initial: WarehouseMockSettings, options: WarehouseMockOptions = {}): WarehouseMock {
  const settings: WarehouseRuntimeSettings = {
    drift: initial.drift,
    failureRate: initial.failureRate,
    latencyMs: initial.latencyMs,
    malformed: 'none',
    hang: false,
    failPage: null,
    driftIntervalMs: options.driftIntervalMs ?? 5000,
  };
  const stock = new Map<string, StockLevel>();
  // SKUs in paging order, rebuilt only when the set of SKUs changes.
  let sorted: string[] | null = null;

  const set = (sku: string, quantity: number): StockLevel => {
    if (!stock.has(sku)) sorted = null;
    const level = { quantity, updatedAt: new Date().toISOString() };
    stock.set(sku, level);
    return level;
  };
  const skus = (): string[] => (sorted ??= [...stock.keys()].sort());

  if (options.seed !== false) {
    for (const { sku, quantity } of loadDemoCatalog()) set(sku, quantity);
  }

  // Drift: every interval a few SKUs gain (restock) or lose (shrinkage) a few units.
  let driftTimer: NodeJS.Timeout | null = null;
  const driftOnce = () => {
    const all = skus();
    if (!all.length) return;
    const count = Math.max(1, Math.ceil(all.length * 0.05));
    for (let i = 0; i < count; i += 1) {
      const sku = all[Math.floor(Math.random() * all.length)];
      const current = stock.get(sku)!.quantity;
      const change = Math.random() < 0.5 ? -(1 + Math.floor(Math.random() * 3)) : 1 + Math.floor(Math.random() * 10);
      set(sku, Math.max(0, current + change));
    }
  };
  const applyDrift = () => {
    if (driftTimer) clearInterval(driftTimer);
    driftTimer = null;
    if (settings.drift) {
      driftTimer = setInterval(driftOnce, settings.driftIntervalMs);
      driftTimer.unref();
    }
  };
  applyDrift();

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '10mb' }));

  app.get('/stock', async (req, res) => {
    const { value: query, error } = pageQuerySchema.validate(req.query, { convert: true });
    if (error) return badRequest(res, error.message);
    const { page, pageSize } = query as { page: number; pageSize: number };

    if (settings.latencyMs) await sleep(settings.latencyMs);
    if (settings.hang) return; // never answers; closeAllConnections() ends it on shutdown
    if (Math.random() < settings.failureRate || settings.failPage === page) {
      res.status(503).json({ error: { code: 'unavailable', message: 'Warehouse temporarily unavailable' } });
      return;
    }
    if (settings.malformed === 'body') {
      res.status(200).type('application/json').send('{"items": [ this is not JSON');
      return;
    }

    const all = skus();
    const start = (page - 1) * pageSize;
    const items: Array<Record<string, unknown>> = all.slice(start, start + pageSize).map((sku) => {
      const level = stock.get(sku)!;
      return { sku, quantity: level.quantity, updatedAt: level.updatedAt };
    });
    if (settings.malformed === 'rows') {
      // The first rows of the page are broken in the three ways a warehouse export breaks.
      if (items[0]) items[0] = { ...items[0], quantity: -5 };
      if (items[1]) items[1] = { quantity: items[1].quantity, updatedAt: items[1].updatedAt };
      if (items[2]) items[2] = { ...items[2], quantity: Number(items[2].quantity) + 0.5 };
    }
    res.json({ items, nextPage: start + pageSize < all.length ? page + 1 : null });
  });

  app.get('/stock/:sku', (req, res) => {
    const level = stock.get(req.params.sku);
    if (!level) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: `No SKU ${req.params.sku}` } });
      return;
    }
    res.json({ sku: req.params.sku, ...level });
  });

  app.put('/stock/:sku', (req, res) => {
    const { value, error } = setOneSchema.validate(req.body);
    if (error) return badRequest(res, error.message);
    if (Joi.string().max(64).validate(req.params.sku).error) return badRequest(res, 'sku must be at most 64 characters');
    res.json({ sku: req.params.sku, ...set(req.params.sku, value.quantity) });
  });

  app.put('/stock', (req, res) => {
    const { value, error } = bulkSchema.validate(req.body);
    if (error) return badRequest(res, error.message);
    const { items, replace } = value as { items: Array<{ sku: string; quantity: number }>; replace: boolean };
    if (replace) {
      stock.clear();
      sorted = null;
    }
    for (const item of items) set(item.sku, item.quantity);
    res.json({ count: stock.size });
  });

  app.get('/config', (_req, res) => res.json(settings));
  app.put('/config', (req, res) => {
    const { value, error } = configSchema.validate(req.body);
    if (error) return badRequest(res, error.message);
    Object.assign(settings, value);
    applyDrift();
    res.json(settings);
  });

  app.get('/health', (_req, res) => res.json({ status: 'ok', skus: stock.size, settings }));
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such route' } });
  });

  return {
    app,
    stock,
    settings,
    set,
    stop: () => {
      if (driftTimer) clearInterval(driftTimer);
      driftTimer = null;
      settings.drift = false;
    },
  };
}

/** Listens on `host` (127.0.0.1 unless told) and `port` (0 picks a free one); close() also stops drift. */
export async function startWarehouseMock(
  settings: WarehouseMockSettings,
  port: number,
  options: WarehouseMockOptions = {},
  host = '127.0.0.1',
): Promise<RunningWarehouseMock> {
  const warehouse = buildWarehouseMock(settings, options);
  const server = await listen(warehouse.app, port, host);
  return {
    ...server,
    warehouse,
    close: async () => {
      warehouse.stop();
      await server.close();
    },
  };
}
