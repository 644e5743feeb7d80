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
import type { StockReservation } from '../inventory';
import type { Payment, Refund } from '../payments';
import { OPEN_STATUSES, ORDER_STATUSES, TERMINAL_STATUSES, type OrderEvent, type OrderStatus } from './lifecycle';

/**
 * The tables the orders module owns: "Orders", "Order_Items" and "Order_Logs", column for column
 * as the migrations create them. Only this module writes them. Associations that cross modules
 * (payments, reservations, an item's product) are defined in src/db/models.ts.
 */

export class Order extends Model<
  InferAttributes<Order, { omit: 'items' | 'logs' | 'payments' | 'refunds' | 'reservations' }>,
  InferCreationAttributes<Order, { omit: 'items' | 'logs' | 'payments' | 'refunds' | 'reservations' }>
> {
  declare id: string;
  declare customerId: string;
  declare status: CreationOptional<OrderStatus>;
  // bigint: pg returns it as a string.
  declare totalCents: string;
  declare currency: string;
  declare failureReason: string | null;
  declare paymentAttempts: CreationOptional<number>;
  /** Set while a charge attempt is in flight (lifecycle.ts, PAYMENT_LEASE). */
  declare paymentLeaseUntil: Date | null;
  declare idempotencyKey: string | null;
  /** sha256 of the canonical request body, to tell a replay from a reused Idempotency-Key. */
  declare requestHash: string | null;
  declare requestId: string | null;
  /** How many events the order has had; its next event carries this plus one (the events module's outbox). */
  declare eventSequence: CreationOptional<number>;
  /** W3C traceparent of the request that created it (null while tracing is off): its jobs' spans join that trace. */
  declare traceparent: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare items?: NonAttribute<OrderItem[]>;
  declare logs?: NonAttribute<OrderLog[]>;
  declare payments?: NonAttribute<Payment[]>;
  declare refunds?: NonAttribute<Refund[]>;
  declare reservations?: NonAttribute<StockReservation[]>;
}

export class OrderItem extends Model<InferAttributes<OrderItem, { omit: 'order' }>, InferCreationAttributes<OrderItem, { omit: 'order' }>> {
  declare id: CreationOptional<number>;
  declare orderId: ForeignKey<Order['id']>;
  declare productId: number;
  declare sku: string;
  declare name: string;
  declare quantity: number;
  declare unitPriceCents: number;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare order?: NonAttribute<Order>;
}

/** One step of an order's story; rows are only ever appended. */
export class OrderLog extends Model<InferAttributes<OrderLog, { omit: 'order' }>, InferCreationAttributes<OrderLog, { omit: 'order' }>> {
  // bigserial: pg returns it as a string.
  declare id: CreationOptional<string>;
  declare orderId: ForeignKey<Order['id']>;
  declare event: OrderEvent;
  declare fromStatus: OrderStatus | null;
  declare toStatus: OrderStatus | null;
  declare attempt: number | null;
  declare message: string;
  declare details: Record<string, unknown> | null;
  declare jobId: string | null;
  declare requestId: string | null;
  declare createdAt: CreationOptional<Date>;

  declare order?: NonAttribute<Order>;
}

export function initOrderModels(sequelize: Sequelize): void {
  Order.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      customerId: { type: DataTypes.STRING(64), allowNull: false },
      status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'pending', validate: { isIn: [[...ORDER_STATUSES]] } },
      totalCents: { type: DataTypes.BIGINT, allowNull: false, validate: { min: 0 } },
      currency: { type: DataTypes.CHAR(3), allowNull: false },
      failureReason: { type: DataTypes.STRING(40), allowNull: true },
      paymentAttempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      paymentLeaseUntil: { type: DataTypes.DATE, allowNull: true },
      idempotencyKey: { type: DataTypes.STRING(255), allowNull: true },
      requestHash: { type: DataTypes.CHAR(64), allowNull: true },
      requestId: { type: DataTypes.STRING(128), allowNull: true },
      eventSequence: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      traceparent: { type: DataTypes.STRING(55), allowNull: true },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'Order', 'Orders', {
      scopes: {
        // Orders whose jobs still own them (the orders_open_status partial index covers this).
        open: { where: { status: [...OPEN_STATUSES] } },
        terminal: { where: { status: [...TERMINAL_STATUSES] } },
      },
    }),
  );

  OrderItem.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      orderId: { type: DataTypes.UUID, allowNull: false },
      productId: { type: DataTypes.INTEGER, allowNull: false },
      sku: { type: DataTypes.STRING(64), allowNull: false },
      name: { type: DataTypes.STRING(200), allowNull: false },
      quantity: { type: DataTypes.INTEGER, allowNull: false, validate: { min: 1 } },
      unitPriceCents: { type: DataTypes.INTEGER, allowNull: false, validate: { min: 0 } },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'OrderItem', 'Order_Items'),
  );

  OrderLog.init(
    {
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      orderId: { type: DataTypes.UUID, allowNull: false },
      event: { type: DataTypes.STRING(40), allowNull: false },
      fromStatus: { type: DataTypes.STRING(16), allowNull: true },
      toStatus: { type: DataTypes.STRING(16), allowNull: true },
      attempt: { type: DataTypes.INTEGER, allowNull: true },
      message: { type: DataTypes.TEXT, allowNull: false },
      details: { type: DataTypes.JSONB, allowNull: true },
      jobId: { type: DataTypes.UUID, allowNull: true },
      requestId: { type: DataTypes.STRING(128), allowNull: true },
      createdAt: TIMESTAMP_COLUMNS.createdAt,
    },
    // The table has created_at only: a log row is never updated.
    tableOptions(sequelize, 'OrderLog', 'Order_Logs', { updatedAt: false }),
  );

  Order.hasMany(OrderItem, { as: 'items', foreignKey: 'orderId' });
  OrderItem.belongsTo(Order, { as: 'order', foreignKey: 'orderId' });
  Order.hasMany(OrderLog, { as: 'logs', foreignKey: 'orderId' });
  OrderLog.belongsTo(Order, { as: 'order', foreignKey: 'orderId' });
}
