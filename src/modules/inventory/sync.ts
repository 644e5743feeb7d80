import { publishEvents, type NewEvent } from '../events';
import type { AppContext } from '../../context';
import type { Logger } from '../../shared/logger';
import { metrics, recordInventorySync } from '../../observability/metrics';
import { SyncRepository, type AppliedRow } from './repository';
import { availableOf } from '../catalog';
import { fellToLowStock } from './stock';
import { warehouseRowSchema, type SyncTrigger, type WarehouseRow } from './schemas';
import { WarehouseClient, WarehouseError } from './warehouse-client';

/**
 * One inventory sync run: page through the warehouse, validate every row, apply each page with
 * set-based statements (lock, then update) inside a short transaction that also records the
 * page's detail on the run row. A page that cannot be read fails the run (pages already applied stay applied)
 * and the error is rethrown so pg-boss retries the job.
 */

/** How much per-SKU detail one run row keeps; the counts are always exact. */
export const DETAIL_LIMITS = Object.freeze({ changes: 10_000, shortfalls: 1_000, unknownSkus: 1_000, missingSkus: 1_000, malformed: 100 });
/** A warehouse that keeps answering "next page" is broken; stop well before memory is. */
const MAX_PAGES = 100_000;

export interface SyncRequest {
  trigger: SyncTrigger;
  /** The cron tick (ISO) the run belongs to; null for manual runs. */
  tick?: string | null;
  jobId?: string | null;
  attempt?: number;
}

export interface SyncSummary {
  runId: number;
  pages: number;
  skusSeen: number;
  skusChanged: number;
  skusUnknown: number;
  skusMissing: number;
  shortfalls: number;
  malformed: number;
  durationMs: number;
}

export interface ChangeEntry {
  sku: string;
  productId: number;
  kind: 'restock' | 'reduction';
  before: number;
  after: number;
  warehouse: number;
  reserved: number;
  shortfall?: true;
}

export interface ShortfallEntry {
  sku: string;
  productId: number;
  warehouse: number;
  reserved: number;
  onHand: number;
  short: number;
}

export interface MalformedEntry {
  page: number;
  index: number;
  sku?: string;
  reason: string;
  row: string;
}

function describeRow(row: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(row) ?? String(row);
  } catch {
    text = String(row);
  }
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** Splits a page into rows to apply and malformed rows (bad shape, or a SKU repeated within the page). */
export function validateRows(items: unknown[], page: number): { valid: WarehouseRow[]; malformed: MalformedEntry[] } {
  const valid: WarehouseRow[] = [];
  const malformed: MalformedEntry[] = [];
  const onPage = new Set<string>();
  items.forEach((item, index) => {
    const { value, error } = warehouseRowSchema.validate(item, { convert: false, abortEarly: true });
    const sku = typeof (item as { sku?: unknown })?.sku === 'string' ? (item as { sku: string }).sku : undefined;
    if (error) {
      malformed.push({ page, index, sku, reason: error.details[0].message.replace(/"/g, ''), row: describeRow(item) });
      return;
    }
    if (onPage.has(value.sku)) {
      malformed.push({ page, index, sku, reason: 'sku appears twice on the page; the first row was applied', row: describeRow(item) });
      return;
    }
    onPage.add(value.sku);
    valid.push({ sku: value.sku, quantity: value.quantity });
  });
  return { valid, malformed };
}

/** The entries of this page that still fit under the run's `limit` for that detail list. */
function fit<T>(entries: T[], alreadyStored: number, limit: number): T[] {
  return entries.slice(0, Math.max(0, limit - alreadyStored));
}

/** Runs inventory syncs (the worker's job); the runs' rows are the InventorySync model. */
export class SyncRunner {
  private readonly repo: SyncRepository;
  private readonly client: WarehouseClient;

  constructor(private readonly ctx: AppContext) {
    this.repo = new SyncRepository(ctx.sequelize);
    this.client = new WarehouseClient(ctx.warehouseUrl, ctx.config.inventory.timeoutMs);
  }

  /** Runs one sync. Returns null when the run was skipped (another job already synced this tick). */
  async run(request: SyncRequest, signal?: AbortSignal): Promise<SyncSummary | null> {
    const started = Date.now();
    const attempt = request.attempt ?? 1;
    const tick = request.tick ?? null;
    const baseLog = this.ctx.logger.child({ module: 'inventory-sync', trigger: request.trigger, tick, jobId: request.jobId ?? undefined, attempt });
    const run = await this.repo.start({ trigger: request.trigger, tick, jobId: request.jobId ?? null, attempt });
    if (!run) {
      baseLog.info('inventory sync skipped: this cron tick already has a run (duplicate job)');
      recordInventorySync('skipped', request.trigger, 0);
      return null;
    }
    const log = baseLog.child({ syncId: Number(run.id) });
    log.info('inventory sync started');

    const { pageSize } = this.ctx.config.inventory;
    // Valid rows' SKUs, and SKUs named only by malformed rows (neither counts as "missing").
    const reported = new Set<string>();
    const namedByMalformed = new Set<string>();
    const unknown = new Set<string>();
    const shortSkus = new Set<string>();
    const totals = { pages: 0, changed: 0, malformed: 0 };
    const stored = { shortfalls: 0, unknownSkus: 0, malformed: 0 };
    // Written to the run row when it ends (succeeded or failed), capped at DETAIL_LIMITS.changes.
    const changes: ChangeEntry[] = [];

    try {
      let page: number | null = 1;
      while (page !== null) {
        if (signal?.aborted) throw new WarehouseError('ABORTED', 'the sync was interrupted (shutdown)', page);
        if (page > MAX_PAGES) throw new WarehouseError('BAD_BODY', `more than ${MAX_PAGES} pages; giving up`, page);
        const body = await this.client.page(page, pageSize, signal);
        if (!body.items.length && body.nextPage !== null) {
          throw new WarehouseError('BAD_BODY', 'the warehouse sent an empty page that points to a next page', page);
        }

        const { valid, malformed } = validateRows(body.items, page);
        for (const row of valid) reported.add(row.sku);
        for (const m of malformed) if (m.sku) namedByMalformed.add(m.sku);

        const currentPage: number = page;
        const outcome = await this.ctx.sequelize.transaction(async (transaction) => {
          const result = await this.repo.applyPage(valid, transaction);
          const pageChanges = result.applied.filter((r) => r.after !== r.before).map(toChange);
          const shortfalls = result.applied.filter((r) => r.warehouse < r.reserved).map(toShortfall);
          const newUnknown = result.unknown.map((u) => u.sku).filter((sku) => !unknown.has(sku));
          const newShort = shortfalls.filter((s) => !shortSkus.has(s.sku));
          const append = {
            shortfalls: fit(newShort, stored.shortfalls, DETAIL_LIMITS.shortfalls),
            unknownSkus: fit(newUnknown, stored.unknownSkus, DETAIL_LIMITS.unknownSkus),
            malformed: fit(malformed, stored.malformed, DETAIL_LIMITS.malformed),
          };
          await publishEvents(this.ctx.sequelize, result.applied.filter(fellLowInSync).map(lowStockEvent), transaction);
          await this.repo.recordPage(run.id, {
            pages: totals.pages + 1,
            skusSeen: reported.size,
            skusChanged: totals.changed + pageChanges.length,
            skusUnknown: unknown.size + newUnknown.length,
            malformedCount: totals.malformed + malformed.length,
            append,
          }, transaction);
          return { result, changes: pageChanges, shortfalls: newShort, newUnknown, append };
        });

        // The transaction committed: only now count the page as applied.
        totals.pages += 1;
        totals.changed += outcome.changes.length;
        totals.malformed += malformed.length;
        for (const sku of outcome.newUnknown) unknown.add(sku);
        for (const s of outcome.shortfalls) shortSkus.add(s.sku);
        changes.push(...fit(outcome.changes, changes.length, DETAIL_LIMITS.changes));
        stored.shortfalls += outcome.append.shortfalls.length;
        stored.unknownSkus += outcome.append.unknownSkus.length;
        stored.malformed += outcome.append.malformed.length;
        this.logPage(log, currentPage, outcome.result.applied, outcome.newUnknown, malformed);

        page = body.nextPage;
      }

      const missing = await this.repo.missing([...reported, ...namedByMalformed], DETAIL_LIMITS.missingSkus);
      const summary: SyncSummary = {
        runId: Number(run.id),
        pages: totals.pages,
        skusSeen: reported.size,
        skusChanged: totals.changed,
        skusUnknown: unknown.size,
        skusMissing: missing.count,
        shortfalls: shortSkus.size,
        malformed: totals.malformed,
        durationMs: Date.now() - started,
      };
      await this.repo.succeed(run.id, changes, missing, { type: 'inventory.sync.succeeded', data: { trigger: request.trigger, ...summary } });
      if (missing.count) {
        log.info({ skusMissing: missing.count, missing: missing.skus.slice(0, 20) }, `${missing.count} product(s) not reported by the warehouse; left as they are`);
      }
      log.info(summary, 'inventory sync succeeded');
      recordInventorySync('succeeded', request.trigger, shortSkus.size, started);
      return summary;
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      const failed: NewEvent = {
        type: 'inventory.sync.failed',
        data: { runId: Number(run.id), trigger: request.trigger, code: (error as { code?: string }).code ?? null, error: message, pagesApplied: totals.pages, durationMs: Date.now() - started },
      };
      await this.repo.fail(run.id, changes, message, failed).catch((recordError) =>
        log.error({ err: recordError }, 'could not mark the inventory sync failed'),
      );
      log.warn({ err: error, pagesApplied: totals.pages, code: (error as { code?: string }).code }, `inventory sync failed: ${message}`);
      recordInventorySync('failed', request.trigger, shortSkus.size, started);
      throw error;
    }
  }

  /** One line per restock, reduction and shortfall, with the SKU, so a product's history can be grepped. */
  private logPage(log: Logger, page: number, applied: AppliedRow[], newUnknown: string[], malformed: MalformedEntry[]): void {
    for (const row of applied) {
      const fields = {
        sku: row.sku,
        productId: row.product_id,
        page,
        before: row.before,
        after: row.after,
        warehouse: row.warehouse,
        reserved: row.reserved,
        availableBefore: availableOf({ stockOnHand: row.before, stockReserved: row.reserved }),
        availableAfter: availableOf({ stockOnHand: row.after, stockReserved: row.reserved }),
      };
      if (row.after > row.before) log.info(fields, `restock: ${row.sku} on hand ${row.before} -> ${row.after}`);
      else if (row.after < row.before) log.info(fields, `stock reduced: ${row.sku} on hand ${row.before} -> ${row.after}`);
      const { lowStockThreshold: threshold } = row;
      if (fellToLowStock(fields.availableBefore, fields.availableAfter, threshold)) {
        metrics.lowStockEvents.inc();
        log.warn({ ...fields, threshold }, `low stock: ${row.sku} has ${fields.availableAfter} available (threshold ${threshold}) after the sync`);
      }
      if (row.warehouse < row.reserved) {
        log.warn(
          { ...fields, short: row.reserved - row.warehouse },
          `shortfall: ${row.sku} warehouse has ${row.warehouse}, ${row.reserved} reserved; on hand kept at ${row.after}`,
        );
      }
    }
    if (newUnknown.length) log.info({ page, count: newUnknown.length, skus: newUnknown.slice(0, 20) }, 'warehouse SKUs unknown to orderloop (not created)');
    for (const m of malformed) log.warn({ page, index: m.index, sku: m.sku, reason: m.reason }, `malformed warehouse row skipped: ${m.reason}`);
  }
}

/** A product the sync took to its low-stock threshold (logged after the page, published with it). */
function fellLowInSync(row: AppliedRow): boolean {
  const before = availableOf({ stockOnHand: row.before, stockReserved: row.reserved });
  const after = availableOf({ stockOnHand: row.after, stockReserved: row.reserved });
  return fellToLowStock(before, after, row.lowStockThreshold);
}

function lowStockEvent(row: AppliedRow): NewEvent {
  const available = availableOf({ stockOnHand: row.after, stockReserved: row.reserved });
  return { type: 'inventory.low_stock', data: { sku: row.sku, available, stockOnHand: row.after, stockReserved: row.reserved, lowStockThreshold: row.lowStockThreshold, cause: 'sync' } };
}

function toChange(r: AppliedRow): ChangeEntry {
  return {
    sku: r.sku,
    productId: r.product_id,
    kind: r.after > r.before ? 'restock' : 'reduction',
    before: r.before,
    after: r.after,
    warehouse: r.warehouse,
    reserved: r.reserved,
    ...(r.warehouse < r.reserved ? { shortfall: true as const } : {}),
  };
}

function toShortfall(r: AppliedRow): ShortfallEntry {
  return { sku: r.sku, productId: r.product_id, warehouse: r.warehouse, reserved: r.reserved, onHand: r.after, short: r.reserved - r.warehouse };
}
