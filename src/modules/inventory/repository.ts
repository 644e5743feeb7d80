import { publishEvents, type NewEvent } from '../events';
import { Op, fn, type Sequelize, type Transaction, type WhereOptions } from 'sequelize';
import { applySyncPage } from './data/apply-sync-page';
import { lockSyncPage } from './data/lock-sync-page';
import { missingSkus } from './data/missing-skus';
import { recordSyncPage } from './data/record-sync-page';
import { startSyncRun } from './data/start-sync-run';
import { InventorySync, shortfallCountAttribute } from './models';
import type { SyncStatus, SyncTrigger, WarehouseRow } from './schemas';

/** The sync's reads and writes of "Inventory_Syncs", and the set-based statements that apply a page to "Products". */

/** A product of the page whose stock_on_hand changed, or that is short (warehouse < reserved), or both. */
export interface AppliedRow {
  product_id: number;
  sku: string;
  warehouse: number;
  before: number;
  after: number;
  reserved: number;
  lowStockThreshold: number;
}

export interface PageOutcome {
  applied: AppliedRow[];
  unknown: Array<{ sku: string; quantity: number }>;
}

export interface RunProgress {
  pages: number;
  skusSeen: number;
  skusChanged: number;
  skusUnknown: number;
  malformedCount: number;
  /** Entries to append to the small jsonb lists (already capped by the caller). */
  append: { shortfalls: unknown[]; unknownSkus: unknown[]; malformed: unknown[] };
}

/** Postgres' text `left(error, n)`: counts characters (code points), not UTF-16 units. */
function leftChars(text: string, n: number): string {
  return text.length <= n ? text : Array.from(text).slice(0, n).join('');
}

export class SyncRepository {
  constructor(private readonly sequelize: Sequelize) {}

  /**
   * Records a new run (and closes runs a stopped worker left 'running'). Returns null when this
   * cron tick already has a run for this attempt (a duplicate job for the tick).
   */
  async start(run: { trigger: SyncTrigger; tick: string | null; jobId: string | null; attempt: number }): Promise<{ id: string } | null> {
    return startSyncRun.one(this.sequelize, [run.trigger, run.tick, run.jobId, run.attempt]);
  }

  /**
   * Applies one page: lock its products (id order), then update the changed ones, two statements
   * (see data/apply-sync-page.ts for why). Returns changed or short rows, and SKUs orderloop does
   * not know. Call inside a short transaction.
   */
  async applyPage(rows: WarehouseRow[], transaction: Transaction): Promise<PageOutcome> {
    if (!rows.length) return { applied: [], unknown: [] };
    const locked = await lockSyncPage.rows(this.sequelize, [rows.map((r) => r.sku)], transaction);
    const bySku = new Map(locked.map((p) => [p.sku, p]));
    const known = rows.filter((r) => bySku.has(r.sku));
    const updated = known.length
      ? await applySyncPage.rows(this.sequelize, [known.map((r) => bySku.get(r.sku)!.id), known.map((r) => r.quantity)], transaction)
      : [];
    const after = new Map(updated.map((u) => [u.id, u.stockOnHand]));

    const applied: AppliedRow[] = [];
    const unknown: Array<{ sku: string; quantity: number }> = [];
    for (const row of rows) {
      const product = bySku.get(row.sku);
      if (!product) {
        unknown.push({ sku: row.sku, quantity: row.quantity });
        continue;
      }
      const changed = after.has(product.id);
      if (!changed && row.quantity >= product.stockReserved) continue;
      applied.push({
        product_id: product.id,
        sku: product.sku,
        warehouse: row.quantity,
        before: product.stockOnHand,
        after: changed ? after.get(product.id)! : product.stockOnHand,
        reserved: product.stockReserved,
        lowStockThreshold: product.lowStockThreshold,
      });
    }
    return { applied, unknown };
  }

  /**
   * Writes the run's running totals and appends this page's short lists, in the page's
   * transaction. The per-SKU changes (the big list) are written once when the run ends:
   * appending them page by page rewrote a growing jsonb value inside every page transaction,
   * which held the products' locks longer.
   */
  async recordPage(id: string, p: RunProgress, transaction: Transaction): Promise<void> {
    await recordSyncPage.rows(this.sequelize, [
      id, p.pages, p.skusSeen, p.skusChanged, p.skusUnknown, p.malformedCount,
      JSON.stringify(p.append.shortfalls), JSON.stringify(p.append.unknownSkus), JSON.stringify(p.append.malformed),
    ], transaction);
  }

  /** Products whose SKU is not in `reported` (the warehouse did not list them): total and the first `limit` (≥ 1). */
  async missing(reported: string[], limit: number): Promise<{ count: number; skus: string[] }> {
    const rows = await missingSkus.rows(this.sequelize, [reported, limit]);
    return { count: rows.length ? Number(rows[0].total) : 0, skus: rows.map((r) => r.sku) };
  }

  // finished_at comes from the database clock, like started_at, so durations never mix two clocks.
  /** Marks the run succeeded, with its event (inventory.sync.succeeded) in the same transaction. */
  async succeed(id: string, changes: unknown[], missing: { count: number; skus: string[] }, event: NewEvent): Promise<void> {
    await this.finish(id, { status: 'succeeded', finishedAt: fn('now'), changes, skusMissing: missing.count, missingSkus: missing.skus }, event);
  }

  /** Marks the run failed, with its event; `changes` are those of the pages that were applied before the failure. */
  async fail(id: string, changes: unknown[], error: string, event: NewEvent): Promise<void> {
    await this.finish(id, { status: 'failed', finishedAt: fn('now'), changes, error: leftChars(error, 2000) }, event);
  }

  private async finish(id: string, fields: Parameters<typeof InventorySync.update>[0], event: NewEvent): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const [finished] = await InventorySync.update(fields, { where: { id, status: 'running' }, transaction });
      if (finished) await publishEvents(this.sequelize, [event], transaction);
    });
  }

  /** One run with its detail lists. */
  async get(id: string): Promise<InventorySync | null> {
    return InventorySync.findByPk(id, { attributes: { include: [shortfallCountAttribute()] } });
  }

  /** Newest first, without the detail lists; `before` is the id of the last row of the previous page. */
  async list(filter: { limit: number; before?: string; status?: SyncStatus; trigger?: SyncTrigger; jobId?: string }): Promise<InventorySync[]> {
    const where: WhereOptions<InventorySync> = {
      ...(filter.before ? { id: { [Op.lt]: filter.before } } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.trigger ? { trigger: filter.trigger } : {}),
      ...(filter.jobId ? { jobId: filter.jobId } : {}),
    };
    return InventorySync.scope('summary').findAll({ where, order: [['id', 'DESC']], limit: filter.limit + 1 });
  }
}
