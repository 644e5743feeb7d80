import { literal } from 'sequelize';

/**
 * The SQL twin of availableOf (src/modules/catalog/models.ts), for statements on "Products"
 * (the catalog's queries, intake, reservation). Columns are unqualified: no other table has them.
 */
export const AVAILABLE_SQL = '(stock_on_hand - stock_reserved)';

/** Available at or below the product's low-stock threshold. */
export const isLowStock = () => literal(`${AVAILABLE_SQL} <= low_stock_threshold`);
