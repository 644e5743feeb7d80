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
 * Order → Payment ('payments') is defined in src/db/models.ts, since orders and payments are
 * separate modules.
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
}
