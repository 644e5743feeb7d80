import Joi from 'joi';

const rate = Joi.number().min(0).max(1);

export interface PaymentMockConfigInput {
  failureRate?: number;
  declineRate?: number;
  lostResponseRate?: number;
  latencyMs?: number;
  down?: boolean;
}

/** What the dashboard may change on the mock payment provider (its PUT /config takes the same fields). */
export const paymentMockConfigSchema = Joi.object<PaymentMockConfigInput>({
  failureRate: rate,
  declineRate: rate,
  lostResponseRate: rate,
  latencyMs: Joi.number().integer().min(0).max(10_000),
  down: Joi.boolean(),
})
  .min(1)
  .required()
  .unknown(false);

export const warehouseStockSchema = Joi.object<{ quantity: number }>({
  quantity: Joi.number().integer().min(0).max(1_000_000).required(),
})
  .required()
  .unknown(false);

export const warehouseSkuSchema = Joi.string().min(1).max(64).pattern(/^[A-Za-z0-9._-]+$/).required().messages({
  'string.pattern.base': '{#label} may contain letters, digits, dot, underscore and hyphen only',
});

export const stockQuerySchema = Joi.object<{ limit: number }>({
  limit: Joi.number().integer().min(1).max(500).default(100),
}).unknown(false);
