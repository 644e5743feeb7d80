import { QueryTypes } from 'sequelize';
import type { AppContext } from '../../context';
import { AppError } from '../../shared/errors';
import { QUEUES } from '../../queue/queues';
import { SyncRepository, type SyncRow } from './repository';
import type { ListSyncsQuery, SyncTrigger } from './schemas';
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

export function toSyncSummary(row: SyncRow) {
  return {
    id: Number(row.id),
    trigger: row.trigger,
    tick: iso(row.tick),
    jobId: row.job_id,
    attempt: row.attempt,
    status: row.status,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    durationMs: row.finished_at ? new Date(row.finished_at).getTime() - new Date(row.started_at).getTime() : null,
    pages: row.pages,
    skusSeen: row.skus_seen,
    skusChanged: row.skus_changed,
    skusUnknown: row.skus_unknown,
    skusMissing: row.skus_missing,
    shortfallCount: Number(row.shortfall_count ?? 0),
    malformedCount: row.malformed_count,
    error: row.error,
  };
}

export function toSyncDetail(row: SyncRow) {
  return {
    ...toSyncSummary(row),
    shortfalls: row.shortfalls ?? [],
    unknownSkus: row.unknown_skus ?? [],
    missingSkus: row.missing_skus ?? [],
    malformed: row.malformed ?? [],
    changes: row.changes ?? [],
  };
}

const syncCursor = (row: SyncRow) => encodeCursor([String(row.id)]);
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
    const schema = this.ctx.config.queue.schema;
    const rows = await this.ctx.sequelize.query<{ id: string; trigger: SyncTrigger | null }>(
      `SELECT id, data->>'trigger' AS trigger FROM "${schema}".job
       WHERE name = $1 AND state = 'created' AND singleton_key = $2
       ORDER BY created_on LIMIT 1`,
      { bind: [QUEUES.INVENTORY_SYNC, SYNC_SINGLETON_KEY], type: QueryTypes.SELECT },
    );
    return rows[0] ? { id: rows[0].id, trigger: rows[0].trigger ?? 'manual' } : null;
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
