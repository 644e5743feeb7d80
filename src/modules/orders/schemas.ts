import Joi from 'joi';
import { ORDER_STATUSES, type OrderStatus } from './lifecycle';

export interface CreateOrderItemInput {
  sku?: string;
  productId?: number;
  quantity: number;
}

export interface CreateOrderInput {
  customerId: string;
  items: CreateOrderItemInput[];
  currency?: string;
}

const customerId = Joi.string().min(1).max(64).pattern(/^[A-Za-z0-9_-]+$/).messages({
  'string.pattern.base': 'customerId may only contain letters, digits, _ and -',
});

const item = Joi.object<CreateOrderItemInput>({
  sku: Joi.string().min(1).max(64),
  productId: Joi.number().integer().min(1).max(2_147_483_647),
  quantity: Joi.number().integer().min(1).max(1000).required(),
}).xor('sku', 'productId').messages({
  'object.xor': 'an item names either sku or productId, not both',
  'object.missing': 'an item needs a sku or a productId',
});

const MAX_ORDER_ITEMS = 50;

/**
 * Each product once, by sku and by productId, in one pass over a Map: Joi's unique(comparator)
 * compares every item with every other. It sees the raw items, invalid ones (null, strings)
 * included, and runs only once validate() has found the array within MAX_ORDER_ITEMS.
 */
const eachProductOnce: Joi.CustomValidator<unknown[]> = (items, helpers) => {
  const seen = new Map<string, number>();
  for (let pos = 0; pos < items.length; pos++) {
    const { sku, productId } = (typeof items[pos] === 'object' && items[pos] !== null ? items[pos] : {}) as Record<string, unknown>;
    const names = [typeof sku === 'string' ? `sku:${sku}` : undefined, typeof productId === 'number' ? `id:${productId}` : undefined];
    for (const name of names) {
      if (name === undefined) continue;
      const dupePos = seen.get(name);
      if (dupePos !== undefined) {
        const path = [...(helpers.state.path ?? []), pos];
        return helpers.error('array.unique', { pos, dupePos, value: items[pos] }, helpers.state.localize?.(path, [items, ...(helpers.state.ancestors ?? [])]));
      }
      seen.set(name, pos);
    }
  }
  return items;
};

export const createOrderSchema = Joi.object<CreateOrderInput>({
  customerId: customerId.required(),
  items: Joi.array()
    .items(item)
    .min(1)
    .max(MAX_ORDER_ITEMS)
    .custom(eachProductOnce, 'each product once')
    .required()
    .messages({ 'array.unique': 'the same product appears twice; send it once with the total quantity' }),
  currency: Joi.string().max(3).pattern(/^[A-Z]{3}$/).messages({ 'string.pattern.base': 'currency must be a 3-letter ISO 4217 code such as EUR' }),
})
  .required()
  .unknown(false);

export const idempotencyKeySchema = Joi.string().min(1).max(255).pattern(/^[\x21-\x7e]+$/).messages({
  'string.pattern.base': 'Idempotency-Key must be 1-255 visible ASCII characters',
});

export const idempotencyHeaderSchema = Joi.object<{ 'Idempotency-Key': string }>({ 'Idempotency-Key': idempotencyKeySchema });

export const orderIdSchema = Joi.string().guid().required().messages({
  'string.guid': 'the order id must be a UUID',
});

export interface ListOrdersQuery {
  customerId?: string;
  status?: OrderStatus;
  limit: number;
  cursor?: string;
}

export const listOrdersSchema = Joi.object<ListOrdersQuery>({
  customerId,
  status: Joi.string().valid(...ORDER_STATUSES),
  limit: Joi.number().integer().min(1).max(100).default(20),
  cursor: Joi.string().max(200),
}).unknown(false);

/** Cancelling takes no body: any key sent is refused, not ignored. */
export const cancelOrderBodySchema = Joi.object({}).unknown(false);

/** POST /orders/:id/refund: a full refund; the goods go back on hand unless `restock` is false. */
export const refundOrderBodySchema = Joi.object({
  restock: Joi.boolean().strict().default(true),
}).unknown(false);
