import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';

/** Plain-object reads and writes of products, categories and their links. */

export interface ProductRow {
  id: number;
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  stock_on_hand: number;
  stock_reserved: number;
  low_stock_threshold: number;
  category: string | null;
}

export interface CategoryRow {
  id: number;
  name: string;
  slug: string;
}

export interface CategoryWithCountRow extends CategoryRow {
  product_count: string | number;
}

export interface ProductCategoryRow {
  product_id: number;
  slug: string;
  name: string;
}

const PRODUCT_COLUMNS = `p.id, p.sku, p.name, p.price_cents, p.currency, p.stock_on_hand, p.stock_reserved, p.low_stock_threshold, p.category`;

/** Escapes LIKE's wildcards so a search for "70%" means the text "70%". */
function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class CatalogRepository {
  constructor(private readonly sequelize: Sequelize) {}

  /** In id order; `afterId` is the last id of the previous page. Asks for one row more than `limit` to tell whether a next page exists. */
  async listProducts(filter: { categorySlug?: string; sku?: string; q?: string; afterId?: number; limit: number }): Promise<ProductRow[]> {
    const where: string[] = [];
    const bind: unknown[] = [];
    if (filter.categorySlug) {
      where.push(`EXISTS (
        SELECT 1 FROM "Product_Categories" pc JOIN "Categories" c ON c.id = pc.category_id
        WHERE pc.product_id = p.id AND c.slug = $${bind.push(filter.categorySlug)})`);
    }
    if (filter.sku) where.push(`p.sku = $${bind.push(filter.sku)}`);
    if (filter.q) where.push(`p.name ILIKE $${bind.push(likeContains(filter.q))}`);
    if (filter.afterId !== undefined) where.push(`p.id > $${bind.push(filter.afterId)}`);
    bind.push(filter.limit + 1);
    return this.sequelize.query<ProductRow>(
      `SELECT ${PRODUCT_COLUMNS} FROM "Products" p
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY p.id LIMIT $${bind.length}`,
      { bind, type: QueryTypes.SELECT },
    );
  }

  async findProductBySku(sku: string, transaction?: Transaction): Promise<ProductRow | null> {
    const rows = await this.sequelize.query<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM "Products" p WHERE p.sku = $1`, {
      bind: [sku],
      transaction,
      type: QueryTypes.SELECT,
    });
    return rows[0] ?? null;
  }

  /** The categories of each product, primary first. */
  async categoriesOf(productIds: number[], transaction?: Transaction): Promise<ProductCategoryRow[]> {
    if (!productIds.length) return [];
    return this.sequelize.query<ProductCategoryRow>(
      `SELECT pc.product_id, c.slug, c.name
       FROM "Product_Categories" pc JOIN "Categories" c ON c.id = pc.category_id
       WHERE pc.product_id = ANY($1::int[])
       ORDER BY pc.product_id, pc.position`,
      { bind: [productIds], transaction, type: QueryTypes.SELECT },
    );
  }

  async listCategories(): Promise<CategoryWithCountRow[]> {
    return this.sequelize.query<CategoryWithCountRow>(
      `SELECT c.id, c.name, c.slug, count(pc.product_id) AS product_count
       FROM "Categories" c LEFT JOIN "Product_Categories" pc ON pc.category_id = c.id
       GROUP BY c.id
       ORDER BY c.name, c.id`,
      { type: QueryTypes.SELECT },
    );
  }

  /** Inserts the category, or returns null when its name (in any case) or slug is taken. */
  async insertCategory(name: string, slug: string): Promise<CategoryRow | null> {
    const [rows] = await this.sequelize.query(
      `INSERT INTO "Categories" (name, slug) VALUES ($1, $2)
       ON CONFLICT DO NOTHING
       RETURNING id, name, slug`,
      { bind: [name, slug], type: QueryTypes.RAW },
    );
    return (rows as CategoryRow[])[0] ?? null;
  }

  /** Existing categories whose name (in any case) or slug equals the given ones. */
  async findCategoryClashes(name: string, slug: string): Promise<CategoryRow[]> {
    return this.sequelize.query<CategoryRow>(
      `SELECT id, name, slug FROM "Categories" WHERE lower(name) = lower($1) OR slug = $2 ORDER BY id`,
      { bind: [name, slug], type: QueryTypes.SELECT },
    );
  }

  /** The categories with these slugs; KEY SHARE keeps them from being deleted before the transaction links them. */
  async findCategoriesBySlugs(slugs: string[], transaction?: Transaction): Promise<CategoryRow[]> {
    if (!slugs.length) return [];
    return this.sequelize.query<CategoryRow>(
      `SELECT id, name, slug FROM "Categories" WHERE slug = ANY($1::text[])${transaction ? ' FOR KEY SHARE' : ''}`,
      { bind: [slugs], transaction, type: QueryTypes.SELECT },
    );
  }

  /**
   * Writes the legacy column (row-locking the product, which serialises concurrent
   * changes of the same product's categories) and returns the product's id, or null.
   */
  async setLegacyCategory(sku: string, category: string | null, transaction: Transaction): Promise<number | null> {
    const [rows] = await this.sequelize.query(
      `UPDATE "Products" SET category = $2, updated_at = now() WHERE sku = $1 RETURNING id`,
      { bind: [sku, category], transaction, type: QueryTypes.RAW },
    );
    return (rows as Array<{ id: number }>)[0]?.id ?? null;
  }

  /** Replaces the product's links with `categoryIds`, the first at position 0 (primary). */
  async replaceLinks(productId: number, categoryIds: number[], transaction: Transaction): Promise<void> {
    await this.sequelize.query('DELETE FROM "Product_Categories" WHERE product_id = $1', {
      bind: [productId],
      transaction,
      type: QueryTypes.RAW,
    });
    if (!categoryIds.length) return;
    await this.sequelize.query(
      `INSERT INTO "Product_Categories" (product_id, category_id, position)
       SELECT $1, x.category_id, x.ord - 1
       FROM unnest($2::int[]) WITH ORDINALITY AS x(category_id, ord)`,
      { bind: [productId, categoryIds], transaction, type: QueryTypes.RAW },
    );
  }
}
