import Joi from 'joi';

export const SYNC_TRIGGERS = Object.freeze(['cron', 'manual'] as const);
export type SyncTrigger = (typeof SYNC_TRIGGERS)[number];
export const SYNC_STATUSES = Object.freeze(['running', 'succeeded', 'failed'] as const);
export type SyncStatus = (typeof SYNC_STATUSES)[number];

/** One stock row as the warehouse reports it, once validated. */
export interface WarehouseRow {
  sku: string;
  quantity: number;
  updatedAt?: string;
}

/** The warehouse contract for one row: no coercion, so "12" or 2.5 are malformed, not 12 or 2. */
export const warehouseRowSchema = Joi.object<WarehouseRow>({
  sku: Joi.string().min(1).max(64).required(),
  quantity: Joi.number().integer().min(0).max(2_147_483_647).required(),
  updatedAt: Joi.any(),
})
  .unknown(true)
  .required();

/** The page envelope; rows inside are validated one by one so one bad row does not sink the page. */
export function pageBodySchema(page: number): Joi.ObjectSchema<{ items: unknown[]; nextPage: number | null }> {
  return Joi.object({
    items: Joi.array().required(),
    nextPage: Joi.number().integer().min(page + 1).allow(null).required(),
  })
    .unknown(true)
    .required();
}

export interface ListSyncsQuery {
  limit: number;
  cursor?: string;
  status?: SyncStatus;
  trigger?: SyncTrigger;
  jobId?: string;
}

export const listSyncsSchema = Joi.object<ListSyncsQuery>({
  limit: Joi.number().integer().min(1).max(100).default(20),
  cursor: Joi.string().max(200),
  status: Joi.string().valid(...SYNC_STATUSES),
  trigger: Joi.string().valid(...SYNC_TRIGGERS),
  jobId: Joi.string().guid(),
}).unknown(false);

export const syncIdSchema = Joi.string()
  .pattern(/^[1-9][0-9]{0,17}$/)
  .required()
  .messages({ 'string.pattern.base': 'the sync id must be a positive integer' });

/** A manual sync takes no body: any key sent is refused, not ignored. */
export const requestSyncBodySchema = Joi.object({}).unknown(false);
