import type { AppContext } from '../../context';
import { registeredSequelize } from '../../db/model-definition';
import { AppError } from '../../shared/errors';
import { QUEUES } from '../../queue/queues';
import { recentSyncRuns } from './data/recent-syncs';
import { InventorySync } from './models';
import { SyncRepository } from './repository';
import { SYNC_TRIGGERS, type ListSyncsQuery, type SyncTrigger } from './schemas';
import { decodeCursor, encodeCursor } from '../../shared/cursor';

/**
 * Every inventory-sync job carries this singleton key. On the queue's 'stately' policy that
 * allows one queued and one active sync at a time (so syncs never overlap, whatever triggered
 * them); cron ticks add singletonSeconds so the ticks of N processes make one job.
 */
export const SYNC_SINGLETON_KEY = 'inventory-sync';

export interface SyncRequested {
  jobId: string;
  /** True when a sync was already waiting to run: that job is the answer, no new one was queued. */
  alreadyQueued: boolean;
  trigger: SyncTrigger;
  runs: string;
}

function iso(value: Date | string | null): string | null {
  return value ? new Date(value).toISOString() : null;
}

/** A run as GET /inventory/syncs shows it; the row was read with its `shortfallCount` attribute. */
export function toSyncSummary(row: InventorySync) {
  return {
    id: Number(row.id),
    trigger: row.trigger,
    tick: iso(row.tick),
    jobId: row.jobId,
    attempt: row.attempt,
    status: row.status,
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
    durationMs: row.finishedAt ? new Date(row.finishedAt).getTime() - new Date(row.startedAt).getTime() : null,
    pages: row.pages,
    skusSeen: row.skusSeen,
    skusChanged: row.skusChanged,
    skusUnknown: row.skusUnknown,
    skusMissing: row.skusMissing,
    shortfallCount: Number(row.get('shortfallCount') ?? 0),
    malformedCount: row.malformedCount,
    error: row.error,
  };
}

export function toSyncDetail(row: InventorySync) {
  return {
    ...toSyncSummary(row),
    shortfalls: row.shortfalls ?? [],
    unknownSkus: row.unknownSkus ?? [],
    missingSkus: row.missingSkus ?? [],
    malformed: row.malformed ?? [],
    changes: row.changes ?? [],
  };
}

/** A run as the operations dashboard shows it (GET /admin/overview). */
export interface RecentSync {
  id: number;
  trigger: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  skusSeen: number;
  skusChanged: number;
  skusUnknown: number;
  skusMissing: number | null;
  shortfallCount: number;
  /** The first 10 shortfalls of the run. */
  shortfalls: Array<{ sku: string; short: number; warehouse: number; reserved: number }>;
  error: string | null;
}

/** The newest `limit` runs, newest first, with their first shortfalls and the start of their error. */
export async function recentSyncs(limit: number): Promise<RecentSync[]> {
  const rows = await recentSyncRuns.rows(registeredSequelize(InventorySync), [limit]);
  return rows.map((r) => ({
    id: Number(r.id),
    trigger: r.trigger,
    status: r.status,
    startedAt: iso(r.startedAt)!,
    finishedAt: iso(r.finishedAt),
    skusSeen: r.skusSeen,
    skusChanged: r.skusChanged,
    skusUnknown: r.skusUnknown,
    skusMissing: r.skusMissing,
    shortfallCount: Number(r.shortfallCount),
    shortfalls: r.shortfalls ?? [],
    error: r.error,
  }));
}

const syncCursor = (row: InventorySync) => encodeCursor([String(row.id)]);
const readSyncCursor = (cursor: string) =>
  decodeCursor(cursor, ([id]) => (typeof id === 'string' && /^[1-9][0-9]{0,17}$/.test(id) ? id : null));

export class InventoryService {
  private readonly syncs: SyncRepository;

  constructor(private readonly ctx: AppContext) {
    this.syncs = new SyncRepository(ctx.sequelize);
  }

  /**
   * Queues a manual sync. When a sync is already waiting to run (queued by a person or a cron
   * tick), no second one is queued: the answer names the waiting job, which will read the
   * warehouse after this request anyway.
   */
  async requestSync(meta: { requestId?: string } = {}): Promise<SyncRequested> {
    for (let tries = 0; tries < 3; tries += 1) {
      const jobId = await this.ctx.queue.trySend(QUEUES.INVENTORY_SYNC, { trigger: 'manual' }, { singletonKey: SYNC_SINGLETON_KEY });
      if (jobId) {
        this.ctx.queue.notify(QUEUES.INVENTORY_SYNC);
        this.ctx.logger.info({ jobId, requestId: meta.requestId }, 'manual inventory sync queued');
        return { jobId, alreadyQueued: false, trigger: 'manual', runs: `/inventory/syncs?jobId=${jobId}` };
      }
      const waiting = await this.waitingJob();
      if (waiting) {
        this.ctx.logger.info({ jobId: waiting.id, requestId: meta.requestId }, 'manual inventory sync requested; one is already queued');
        return { jobId: waiting.id, alreadyQueued: true, trigger: waiting.trigger, runs: `/inventory/syncs?jobId=${waiting.id}` };
      }
      // The waiting job was picked up between the two queries: its slot is free again.
    }
    throw new AppError('CONFLICT', 'A sync was queued and started while this request ran; try again', { retry: true });
  }

  private async waitingJob(): Promise<{ id: string; trigger: SyncTrigger } | null> {
    const job = await this.ctx.queue.inspect.oldestWaitingJob(QUEUES.INVENTORY_SYNC, SYNC_SINGLETON_KEY);
    if (!job) return null;
    const trigger = (job.data as { trigger?: unknown } | null)?.trigger;
    return { id: job.id, trigger: SYNC_TRIGGERS.includes(trigger as SyncTrigger) ? (trigger as SyncTrigger) : 'manual' };
  }

  async list(query: ListSyncsQuery) {
    const rows = await this.syncs.list({
      limit: query.limit,
      before: query.cursor ? readSyncCursor(query.cursor) : undefined,
      status: query.status,
      trigger: query.trigger,
      jobId: query.jobId,
    });
    const page = rows.slice(0, query.limit);
    return {
      syncs: page.map(toSyncSummary),
      nextCursor: rows.length > query.limit ? syncCursor(page[page.length - 1]) : null,
    };
  }

  async get(id: string) {
    const row = await this.syncs.get(id);
    if (!row) throw new AppError('SYNC_NOT_FOUND', `No inventory sync ${id}`);
    return toSyncDetail(row);
  }
}
