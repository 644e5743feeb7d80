import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/**
 * Puts stock_on_hand back where the recompute raised it only to make room for reservations that
 * were released since (in the same transaction): never below what is still reserved.
 */
export const integrityRestoreOnHand = statement<Pick<ProductStock, 'id'>, [productIds: number[], onHandBefore: number[]]>(
  'inventory.integrity_restore_on_hand',
  `UPDATE "Products" p
   SET stock_on_hand = GREATEST(x.on_hand, p.stock_reserved), updated_at = now()
   FROM unnest($1::int[], $2::int[]) AS x(id, on_hand)
   WHERE p.id = x.id AND p.stock_on_hand <> GREATEST(x.on_hand, p.stock_reserved)
   RETURNING p.id`,
);
