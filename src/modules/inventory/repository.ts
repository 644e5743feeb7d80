import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { SyncStatus, SyncTrigger, WarehouseRow } from './schemas';

/** Reads and writes of "Inventory_Syncs", and the one set-based statement that applies a page to "Products". */

export interface SyncRow {
  id: string;
  trigger: SyncTrigger;
  tick: Date | null;
  job_id: string | null;
  attempt: number;
  status: SyncStatus;
  started_at: Date;
  finished_at: Date | null;
  pages: number;
  skus_seen: number;
  skus_changed: number;
  skus_unknown: number;
  skus_missing: number | null;
  malformed_count: number;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  // Only read by get(): the per-SKU detail.
  shortfalls?: unknown[];
  unknown_skus?: unknown[];
  missing_skus?: unknown[];
  malformed?: unknown[];
  changes?: unknown[];
  shortfall_count?: number;
}

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

const SUMMARY_COLUMNS = `id, trigger, tick, job_id, attempt, status, started_at, finished_at, pages, skus_seen, skus_changed,
  skus_unknown, skus_missing, malformed_count, error, created_at, updated_at, jsonb_array_length(shortfalls) AS shortfall_count`;

/**
 * A page is applied in two statements inside one short transaction. The first locks the page's
 * products in ascending id order (as the order flow does, so the two cannot deadlock). The
 * second sets stock_on_hand = GREATEST(warehouse, stock_reserved) where that changes it, never
 * touching stock_reserved. They must be two statements: an UPDATE in the same statement as the
 * FOR UPDATE works from the statement's snapshot, meets the newer row version the lock already
 * took, and queues behind other waiters on the old version, which deadlocks with them.
 *
 * The lock is FOR NO KEY UPDATE (what an UPDATE of non-key columns takes anyway): it waits for
 * the order flow's locks and stock updates, but not for the FOR KEY SHARE locks that
 * foreign-key checks take on "Products" (inserting "Order_Items" locks products in item order,
 * not id order; FOR UPDATE here would deadlock with that).
 */
const LOCK_PAGE_SQL = `
  SELECT id, sku::text AS sku, stock_on_hand, stock_reserved, low_stock_threshold
  FROM "Products"
  WHERE sku = ANY($1::text[])
  ORDER BY id
  FOR NO KEY UPDATE`;

const APPLY_PAGE_SQL = `
  UPDATE "Products" p
  SET stock_on_hand = GREATEST(i.quantity, p.stock_reserved), updated_at = now()
  FROM unnest($1::int[], $2::int[]) AS i(id, quantity)
  WHERE p.id = i.id AND p.stock_on_hand <> GREATEST(i.quantity, p.stock_reserved)
  RETURNING p.id, p.stock_on_hand`;

export class SyncRepository {
  constructor(private readonly sequelize: Sequelize) {}

  /**
   * Records a new run. Returns null when this cron tick already has a run for this attempt (a
   * duplicate job for the tick). Any other row still 'running' was left by a worker that stopped
   * mid-run (the stately queue lets one sync job be active at a time), so it is closed as failed.
   */
  async start(run: { trigger: SyncTrigger; tick: string | null; jobId: string | null; attempt: number }): Promise<SyncRow | null> {
    return this.sequelize.transaction(async (transaction) => {
      const [created] = await this.sequelize.query<SyncRow>(
        `INSERT INTO "Inventory_Syncs" (trigger, tick, job_id, attempt)
         VALUES ($1, $2::timestamptz, $3::uuid, $4)
         ON CONFLICT (tick, attempt) WHERE tick IS NOT NULL DO NOTHING
         RETURNING ${SUMMARY_COLUMNS}`,
        { bind: [run.trigger, run.tick, run.jobId, run.attempt], transaction, type: QueryTypes.SELECT },
      );
      if (!created) return null;
      await this.sequelize.query(
        `UPDATE "Inventory_Syncs"
         SET status = 'failed', finished_at = now(), updated_at = now(),
             error = COALESCE(error, 'abandoned: the worker stopped (or the job expired) before the run finished')
         WHERE status = 'running' AND id <> $1`,
        { bind: [created.id], transaction },
      );
      return created;
    });
  }

  /** The set-based page update (changed or short rows, and SKUs orderloop does not know); call inside a short transaction. */
  async applyPage(rows: WarehouseRow[], transaction: Transaction): Promise<PageOutcome> {
    if (!rows.length) return { applied: [], unknown: [] };
    const locked = await this.sequelize.query<{ id: number; sku: string; stock_on_hand: number; stock_reserved: number; low_stock_threshold: number }>(LOCK_PAGE_SQL, {
      bind: [rows.map((r) => r.sku)],
      transaction,
      type: QueryTypes.SELECT,
    });
    const bySku = new Map(locked.map((p) => [p.sku, p]));
    const known = rows.filter((r) => bySku.has(r.sku));
    const updated = known.length
      ? await this.sequelize.query<{ id: number; stock_on_hand: number }>(APPLY_PAGE_SQL, {
          bind: [known.map((r) => bySku.get(r.sku)!.id), known.map((r) => r.quantity)],
          transaction,
          type: QueryTypes.SELECT,
        })
      : [];
    const after = new Map(updated.map((u) => [u.id, u.stock_on_hand]));

    const applied: AppliedRow[] = [];
    const unknown: Array<{ sku: string; quantity: number }> = [];
    for (const row of rows) {
      const product = bySku.get(row.sku);
      if (!product) {
        unknown.push({ sku: row.sku, quantity: row.quantity });
        continue;
      }
      const changed = after.has(product.id);
      if (!changed && row.quantity >= product.stock_reserved) continue;
      applied.push({
        product_id: product.id,
        sku: product.sku,
        warehouse: row.quantity,
        before: product.stock_on_hand,
        after: changed ? after.get(product.id)! : product.stock_on_hand,
        reserved: product.stock_reserved,
        lowStockThreshold: product.low_stock_threshold,
      });
    }
    return { applied, unknown };
  }

  /**
   * Writes the run's running totals and appends this page's short lists, in the page's
   * transaction, so the row always tells how far the run got. The per-SKU changes (the big
   * list) are written once when the run ends: appending them page by page rewrote a growing
   * jsonb value inside every page transaction, which held the products' locks longer.
   */
  async recordPage(id: string, p: RunProgress, transaction: Transaction): Promise<void> {
    const nothingToAppend = !p.append.shortfalls.length && !p.append.unknownSkus.length && !p.append.malformed.length;
    await this.sequelize.query(
      `UPDATE "Inventory_Syncs"
       SET pages = $2, skus_seen = $3, skus_changed = $4, skus_unknown = $5, malformed_count = $6, updated_at = now()
           ${nothingToAppend ? '' : ', shortfalls = shortfalls || $7::jsonb, unknown_skus = unknown_skus || $8::jsonb, malformed = malformed || $9::jsonb'}
       WHERE id = $1`,
      {
        bind: [
          id, p.pages, p.skusSeen, p.skusChanged, p.skusUnknown, p.malformedCount,
          ...(nothingToAppend ? [] : [JSON.stringify(p.append.shortfalls), JSON.stringify(p.append.unknownSkus), JSON.stringify(p.append.malformed)]),
        ],
        transaction,
      },
    );
  }

  /** Products whose SKU is not in `reported` (the warehouse did not list them): total and the first `limit` (≥ 1). */
  async missing(reported: string[], limit: number): Promise<{ count: number; skus: string[] }> {
    const rows = await this.sequelize.query<{ sku: string; total: string }>(
      `SELECT p.sku, count(*) OVER () AS total
       FROM "Products" p
       WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS r(sku) WHERE r.sku = p.sku)
       ORDER BY p.sku
       LIMIT $2`,
      { bind: [reported, limit], type: QueryTypes.SELECT },
    );
    return { count: rows.length ? Number(rows[0].total) : 0, skus: rows.map((r) => r.sku) };
  }

  async succeed(id: string, changes: unknown[], missing: { count: number; skus: string[] }): Promise<void> {
    await this.sequelize.query(
      `UPDATE "Inventory_Syncs"
       SET status = 'succeeded', finished_at = now(), updated_at = now(), changes = $2::jsonb, skus_missing = $3, missing_skus = $4::jsonb
       WHERE id = $1 AND status = 'running'`,
      { bind: [id, JSON.stringify(changes), missing.count, JSON.stringify(missing.skus)] },
    );
  }

  /** Marks the run failed; `changes` are those of the pages that were applied before the failure. */
  async fail(id: string, changes: unknown[], error: string): Promise<void> {
    await this.sequelize.query(
      `UPDATE "Inventory_Syncs"
       SET status = 'failed', finished_at = now(), updated_at = now(), changes = $2::jsonb, error = left($3, 2000)
       WHERE id = $1 AND status = 'running'`,
      { bind: [id, JSON.stringify(changes), error] },
    );
  }

  async get(id: string): Promise<SyncRow | null> {
    const rows = await this.sequelize.query<SyncRow>(
      `SELECT ${SUMMARY_COLUMNS}, shortfalls, unknown_skus, missing_skus, malformed, changes
       FROM "Inventory_Syncs" WHERE id = $1`,
      { bind: [id], type: QueryTypes.SELECT },
    );
    return rows[0] ?? null;
  }

  /** Newest first; `before` is the id of the last row of the previous page. */
  async list(filter: { limit: number; before?: string; status?: SyncStatus; trigger?: SyncTrigger; jobId?: string }): Promise<SyncRow[]> {
    const where: string[] = [];
    const bind: unknown[] = [];
    if (filter.before) where.push(`id < $${bind.push(filter.before)}`);
    if (filter.status) where.push(`status = $${bind.push(filter.status)}`);
    if (filter.trigger) where.push(`trigger = $${bind.push(filter.trigger)}`);
    if (filter.jobId) where.push(`job_id = $${bind.push(filter.jobId)}::uuid`);
    bind.push(filter.limit + 1);
    return this.sequelize.query<SyncRow>(
      `SELECT ${SUMMARY_COLUMNS} FROM "Inventory_Syncs" ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${bind.length}`,
      { bind, type: QueryTypes.SELECT },
    );
  }
}
