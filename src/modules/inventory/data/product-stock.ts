import type { InferAttributes } from 'sequelize';
import type { Product } from '../../catalog';

/**
 * The stock columns of a "Products" row as the inventory statements return them, named and
 * typed like the Product model's attributes. Inventory writes these columns; catalog owns the rest.
 */
export type ProductStock = Pick<InferAttributes<Product>, 'id' | 'sku' | 'stockOnHand' | 'stockReserved' | 'lowStockThreshold'>;
