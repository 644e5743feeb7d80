import {
  DataTypes,
  Model,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';
import { TIMESTAMP_COLUMNS, tableOptions } from '../../db/model-definition';
import type { PaymentErrorDetail } from './failures';

/**
 * "Payments": one row per charge attempt, written only by this module. At most one succeeded
 * charge per order (a partial unique index). error_code is a reason code and error_message its
 * plain message (failures.ts); error_detail is the technical account, for admins only.
 * Order → Payment ('payments') and Order → Refund ('refunds') are defined in src/db/models.ts,
 * since orders and payments are separate modules.
 */

export const PAYMENT_OUTCOMES = Object.freeze(['succeeded', 'failed', 'declined'] as const);
export type PaymentOutcome = (typeof PAYMENT_OUTCOMES)[number];

export class Payment extends Model<InferAttributes<Payment>, InferCreationAttributes<Payment>> {
  // bigserial and bigint: pg returns them as strings.
  declare id: CreationOptional<string>;
  declare orderId: string;
  declare attempt: number;
  declare outcome: PaymentOutcome;
  declare providerChargeId: string | null;
  declare errorCode: string | null;
  declare errorMessage: string | null;
  /** Admin-only: the provider's or the HTTP library's own account of a failure (see failures.ts). */
  declare errorDetail: PaymentErrorDetail | null;
  declare amountCents: string;
  declare currency: string;
  declare durationMs: number | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initPaymentModels(sequelize: Sequelize): void {
  Payment.init(
    {
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      orderId: { type: DataTypes.UUID, allowNull: false },
      attempt: { type: DataTypes.INTEGER, allowNull: false, validate: { min: 1 } },
      outcome: { type: DataTypes.STRING(16), allowNull: false, validate: { isIn: [[...PAYMENT_OUTCOMES]] } },
      providerChargeId: { type: DataTypes.STRING(100), allowNull: true },
      errorCode: { type: DataTypes.STRING(64), allowNull: true },
      errorMessage: { type: DataTypes.STRING(500), allowNull: true },
      errorDetail: { type: DataTypes.JSONB, allowNull: true },
      amountCents: { type: DataTypes.BIGINT, allowNull: false, validate: { min: 0 } },
      currency: { type: DataTypes.CHAR(3), allowNull: false },
      durationMs: { type: DataTypes.INTEGER, allowNull: true },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'Payment', 'Payments', {
      scopes: {
        // The one charge that paid for an order, if any.
        succeeded: { where: { outcome: 'succeeded' } },
      },
    }),
  );
  initRefundAndCircuitModels(sequelize);
}

export const REFUND_REASONS = Object.freeze(['late_charge', 'requested'] as const);
export type RefundReason = (typeof REFUND_REASONS)[number];
export const REFUND_STATUSES = Object.freeze(['requested', 'succeeded', 'failed'] as const);
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/**
 * "Refunds": one full refund per order, written only by this module. `late_charge` refunds a
 * charge that landed after its order closed; `requested` is an admin's refund of a completed
 * order. A refund is `requested` until the provider confirms it (`succeeded`, with its id) or it
 * is given up (`failed`, with the reason code); `attempts` counts calls made, not deferrals.
 */
export class Refund extends Model<InferAttributes<Refund>, InferCreationAttributes<Refund>> {
  declare id: CreationOptional<string>;
  declare orderId: string;
  declare providerChargeId: string;
  declare providerRefundId: string | null;
  declare amountCents: string;
  declare currency: string;
  declare reason: RefundReason;
  declare restock: CreationOptional<boolean>;
  declare status: CreationOptional<RefundStatus>;
  declare attempts: CreationOptional<number>;
  declare errorCode: string | null;
  declare errorDetail: PaymentErrorDetail | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export const CIRCUIT_STATES = Object.freeze(['closed', 'open', 'half_open'] as const);

/** "Payment_Circuits": each worker process's circuit breaker state (circuit.ts), written on every change. */
export class PaymentCircuit extends Model<InferAttributes<PaymentCircuit>, InferCreationAttributes<PaymentCircuit>> {
  /** hostname:pid of the process. */
  declare process: string;
  declare state: (typeof CIRCUIT_STATES)[number];
  declare changedAt: Date;
  declare nextProbeAt: Date | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

function initRefundAndCircuitModels(sequelize: Sequelize): void {
  Refund.init(
    {
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      orderId: { type: DataTypes.UUID, allowNull: false, unique: true },
      providerChargeId: { type: DataTypes.STRING(100), allowNull: false },
      providerRefundId: { type: DataTypes.STRING(100), allowNull: true },
      amountCents: { type: DataTypes.BIGINT, allowNull: false, validate: { min: 1 } },
      currency: { type: DataTypes.CHAR(3), allowNull: false },
      reason: { type: DataTypes.STRING(16), allowNull: false, validate: { isIn: [[...REFUND_REASONS]] } },
      restock: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'requested', validate: { isIn: [[...REFUND_STATUSES]] } },
      attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      errorCode: { type: DataTypes.STRING(64), allowNull: true },
      errorDetail: { type: DataTypes.JSONB, allowNull: true },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'Refund', 'Refunds'),
  );
  PaymentCircuit.init(
    {
      process: { type: DataTypes.STRING(200), primaryKey: true },
      state: { type: DataTypes.STRING(16), allowNull: false, validate: { isIn: [[...CIRCUIT_STATES]] } },
      changedAt: { type: DataTypes.DATE, allowNull: false },
      nextProbeAt: { type: DataTypes.DATE, allowNull: true },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'PaymentCircuit', 'Payment_Circuits'),
  );
}
