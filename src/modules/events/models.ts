import {
  DataTypes,
  Model,
  type CreationOptional,
  type ForeignKey,
  type InferAttributes,
  type InferCreationAttributes,
  type NonAttribute,
  type Sequelize,
} from 'sequelize';
import { TIMESTAMP_COLUMNS, tableOptions } from '../../db/model-definition';

/**
 * The tables the events module owns: the "Events" outbox and the webhook endpoints, deliveries and
 * attempts, column for column as migration 20261206100000 creates them. Only this module writes
 * them (other modules write events through its door, in their own transactions).
 */

export const DELIVERY_STATUSES = Object.freeze(['pending', 'delivered', 'failed'] as const);
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export class OutboxEvent extends Model<InferAttributes<OutboxEvent>, InferCreationAttributes<OutboxEvent>> {
  declare id: CreationOptional<string>;
  declare type: string;
  declare orderId: string | null;
  declare customerId: string | null;
  /** The order's own count of its events: a receiver drops an order event older than one it has. */
  declare sequence: number | null;
  declare apiVersion: string;
  declare data: Record<string, unknown>;
  declare dispatchedAt: Date | null;
  declare createdAt: CreationOptional<Date>;
}

export class WebhookEndpoint extends Model<InferAttributes<WebhookEndpoint, { omit: 'deliveries' }>, InferCreationAttributes<WebhookEndpoint, { omit: 'deliveries' }>> {
  declare id: string;
  declare url: string;
  declare description: string | null;
  declare events: string[];
  /** Set for a customer client's endpoint: it receives that customer's order events only. */
  declare customerId: string | null;
  declare secret: string;
  declare enabled: CreationOptional<boolean>;
  declare disabledReason: string | null;
  /** Deliveries in a row that failed for good; WEBHOOK_DISABLE_AFTER_FAILURES of them disable the endpoint. */
  declare consecutiveFailures: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare deliveries?: NonAttribute<WebhookDelivery[]>;
}

export class WebhookDelivery extends Model<InferAttributes<WebhookDelivery, { omit: 'event' | 'attemptLog' }>, InferCreationAttributes<WebhookDelivery, { omit: 'event' | 'attemptLog' }>> {
  declare id: CreationOptional<string>;
  declare endpointId: ForeignKey<WebhookEndpoint['id']>;
  declare eventId: ForeignKey<OutboxEvent['id']>;
  declare status: CreationOptional<DeliveryStatus>;
  declare attempts: CreationOptional<number>;
  declare lastHttpStatus: number | null;
  declare lastError: string | null;
  declare nextAttemptAt: Date | null;
  declare deliveredAt: Date | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare event?: NonAttribute<OutboxEvent>;
  declare attemptLog?: NonAttribute<WebhookAttempt[]>;
}

export class WebhookAttempt extends Model<InferAttributes<WebhookAttempt>, InferCreationAttributes<WebhookAttempt>> {
  // bigserial: pg returns it as a string.
  declare id: CreationOptional<string>;
  declare deliveryId: ForeignKey<WebhookDelivery['id']>;
  declare attempt: number;
  declare outcome: 'delivered' | 'failed';
  declare httpStatus: number | null;
  declare durationMs: number;
  declare error: string | null;
  /** The earliest time the next attempt may run (pg-boss adds up to as much again as jitter). */
  declare nextRetryAt: Date | null;
  declare createdAt: CreationOptional<Date>;
}

export function initEventModels(sequelize: Sequelize): void {
  OutboxEvent.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
      type: { type: DataTypes.STRING(64), allowNull: false },
      orderId: { type: DataTypes.UUID, allowNull: true },
      customerId: { type: DataTypes.STRING(64), allowNull: true },
      sequence: { type: DataTypes.INTEGER, allowNull: true },
      apiVersion: { type: DataTypes.STRING(16), allowNull: false },
      data: { type: DataTypes.JSONB, allowNull: false },
      dispatchedAt: { type: DataTypes.DATE, allowNull: true },
      createdAt: TIMESTAMP_COLUMNS.createdAt,
    },
    tableOptions(sequelize, 'OutboxEvent', 'Events', { updatedAt: false }),
  );
  WebhookEndpoint.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      url: { type: DataTypes.STRING(2048), allowNull: false },
      description: { type: DataTypes.STRING(500), allowNull: true },
      events: { type: DataTypes.ARRAY(DataTypes.STRING(64)), allowNull: false },
      customerId: { type: DataTypes.STRING(64), allowNull: true },
      secret: { type: DataTypes.STRING(100), allowNull: false },
      enabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
      disabledReason: { type: DataTypes.STRING(500), allowNull: true },
      consecutiveFailures: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'WebhookEndpoint', 'Webhook_Endpoints'),
  );
  WebhookDelivery.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
      endpointId: { type: DataTypes.UUID, allowNull: false },
      eventId: { type: DataTypes.UUID, allowNull: false },
      status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'pending', validate: { isIn: [[...DELIVERY_STATUSES]] } },
      attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      lastHttpStatus: { type: DataTypes.INTEGER, allowNull: true },
      lastError: { type: DataTypes.STRING(500), allowNull: true },
      nextAttemptAt: { type: DataTypes.DATE, allowNull: true },
      deliveredAt: { type: DataTypes.DATE, allowNull: true },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'WebhookDelivery', 'Webhook_Deliveries'),
  );
  WebhookAttempt.init(
    {
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      deliveryId: { type: DataTypes.UUID, allowNull: false },
      attempt: { type: DataTypes.INTEGER, allowNull: false },
      outcome: { type: DataTypes.STRING(16), allowNull: false },
      httpStatus: { type: DataTypes.INTEGER, allowNull: true },
      durationMs: { type: DataTypes.INTEGER, allowNull: false },
      error: { type: DataTypes.STRING(500), allowNull: true },
      nextRetryAt: { type: DataTypes.DATE, allowNull: true },
      createdAt: TIMESTAMP_COLUMNS.createdAt,
    },
    tableOptions(sequelize, 'WebhookAttempt', 'Webhook_Attempts', { updatedAt: false }),
  );

  WebhookEndpoint.hasMany(WebhookDelivery, { as: 'deliveries', foreignKey: 'endpointId', onDelete: 'CASCADE' });
  WebhookDelivery.belongsTo(WebhookEndpoint, { as: 'endpoint', foreignKey: 'endpointId' });
  WebhookDelivery.belongsTo(OutboxEvent, { as: 'event', foreignKey: 'eventId' });
  WebhookDelivery.hasMany(WebhookAttempt, { as: 'attemptLog', foreignKey: 'deliveryId', onDelete: 'CASCADE' });
}
