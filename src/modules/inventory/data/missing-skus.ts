import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/**
 * Products whose SKU is not in `reported` (the warehouse did not list them), in SKU order, each
 * with the total count of such products (so one statement gives the count and the first `limit`).
 */
export const missingSkus = statement<Pick<ProductStock, 'sku'> & { total: string }, [reported: string[], limit: number]>(
  'inventory.missing_skus',
  `SELECT p.sku, count(*) OVER () AS total
   FROM "Products" p
   WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS r(sku) WHERE r.sku = p.sku)
   ORDER BY p.sku
   LIMIT $2`,
);
