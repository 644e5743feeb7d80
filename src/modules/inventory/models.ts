import {
  DataTypes,
  Model,
  col,
  fn,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type NonAttribute,
  type Sequelize,
} from 'sequelize';
import { TIMESTAMP_COLUMNS, tableOptions } from '../../db/model-definition';
import type { Product } from '../catalog';
import type { Order } from '../orders';
import { SYNC_STATUSES, SYNC_TRIGGERS, type SyncStatus, type SyncTrigger } from './schemas';

/**
 * The tables the inventory module owns: "Stock_Reservations" and "Inventory_Syncs" (the stock
 * columns of "Products" are inventory's too, but the Product model is catalog's). Each model
 * matches its migration column for column; associations that cross modules
 * (StockReservation → Product, Order → StockReservation) are defined in src/db/models.ts.
 */

export const RESERVATION_STATUSES = Object.freeze(['active', 'committed', 'released'] as const);
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/** Units held for an order between reservation and payment; a product's stock_reserved is the sum of its active ones. */
export class StockReservation extends Model<InferAttributes<StockReservation>, InferCreationAttributes<StockReservation>> {
  // bigserial: pg returns BIGINT as a string.
  declare id: CreationOptional<string>;
  declare orderId: string;
  declare productId: number;
  declare quantity: number;
  declare status: CreationOptional<ReservationStatus>;
  declare expiresAt: Date;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  /** With `include: 'order'` / `'product'` (the associations are defined in src/db/models.ts). */
  declare order?: NonAttribute<Order>;
  declare product?: NonAttribute<Product>;
}

/** One inventory sync attempt: counts in columns, per-SKU detail in jsonb lists (capped by the runner). */
export class InventorySync extends Model<InferAttributes<InventorySync>, InferCreationAttributes<InventorySync>> {
  declare id: CreationOptional<string>;
  declare trigger: SyncTrigger;
  /** The cron tick this run belongs to; null for manual runs. */
  declare tick: CreationOptional<Date | null>;
  declare jobId: CreationOptional<string | null>;
  declare attempt: CreationOptional<number>;
  declare status: CreationOptional<SyncStatus>;
  declare startedAt: CreationOptional<Date>;
  declare finishedAt: CreationOptional<Date | null>;
  declare pages: CreationOptional<number>;
  declare skusSeen: CreationOptional<number>;
  declare skusChanged: CreationOptional<number>;
  declare skusUnknown: CreationOptional<number>;
  /** Null until a run has read every page. */
  declare skusMissing: CreationOptional<number | null>;
  declare shortfalls: CreationOptional<unknown[]>;
  declare unknownSkus: CreationOptional<unknown[]>;
  declare missingSkus: CreationOptional<unknown[]>;
  declare malformed: CreationOptional<unknown[]>;
  declare malformedCount: CreationOptional<number>;
  declare changes: CreationOptional<unknown[]>;
  declare error: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

/** The run's columns without the jsonb detail lists: what a list of runs shows. */
export const SYNC_SUMMARY_ATTRIBUTES = Object.freeze([
  'id', 'trigger', 'tick', 'jobId', 'attempt', 'status', 'startedAt', 'finishedAt', 'pages', 'skusSeen',
  'skusChanged', 'skusUnknown', 'skusMissing', 'malformedCount', 'error', 'createdAt', 'updatedAt',
] as const satisfies ReadonlyArray<keyof InferAttributes<InventorySync>>);

/**
 * `shortfallCount`, counted by the database so a list need not load the shortfall lists.
 * Read it with `run.get('shortfallCount')`.
 */
export const shortfallCountAttribute = () => [fn('jsonb_array_length', col('shortfalls')), 'shortfallCount'] as [ReturnType<typeof fn>, string];

export function initInventoryModels(sequelize: Sequelize): void {
  StockReservation.init(
    {
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      orderId: { type: DataTypes.UUID, allowNull: false },
      productId: { type: DataTypes.INTEGER, allowNull: false },
      quantity: { type: DataTypes.INTEGER, allowNull: false, validate: { min: 1 } },
      status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'active', validate: { isIn: [[...RESERVATION_STATUSES]] } },
      expiresAt: { type: DataTypes.DATE, allowNull: false },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'StockReservation', 'Stock_Reservations', {
      scopes: {
        // The reservations that count in stock_reserved.
        active: { where: { status: 'active' } },
      },
    }),
  );

  InventorySync.init(
    {
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      trigger: { type: DataTypes.STRING(16), allowNull: false, validate: { isIn: [[...SYNC_TRIGGERS]] } },
      tick: { type: DataTypes.DATE, allowNull: true },
      jobId: { type: DataTypes.UUID, allowNull: true },
      attempt: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 1, validate: { min: 1 } },
      status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'running', validate: { isIn: [[...SYNC_STATUSES]] } },
      startedAt: { type: DataTypes.DATE, allowNull: false, defaultValue: DataTypes.NOW },
      finishedAt: { type: DataTypes.DATE, allowNull: true },
      pages: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      skusSeen: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      skusChanged: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      skusUnknown: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      skusMissing: { type: DataTypes.INTEGER, allowNull: true },
      shortfalls: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      unknownSkus: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      missingSkus: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      malformed: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      malformedCount: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      changes: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      error: { type: DataTypes.TEXT, allowNull: true },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'InventorySync', 'Inventory_Syncs', {
      scopes: {
        // A list of runs: the counts, not the per-SKU detail (up to thousands of entries per run).
        summary: { attributes: [...SYNC_SUMMARY_ATTRIBUTES, shortfallCountAttribute()] },
      },
    }),
  );
}
