import type { AppContext } from '../../context';
import { AppError } from '../../shared/errors';
import { CatalogRepository, type CategoryRow, type ProductCategoryRow, type ProductRow } from './repository';
import { slugify, type CreateCategoryInput, type ListProductsQuery, type SetProductCategoriesInput } from './schemas';
import { decodeCursor, encodeCursor } from '../../shared/cursor';

export interface CategoryRef {
  slug: string;
  name: string;
}

export interface ProductView {
  id: number;
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  stockOnHand: number;
  stockReserved: number;
  available: number;
  lowStockThreshold: number;
  /** The legacy free-text column as stored: the primary category's name for products whose categories orderloop set. */
  category: string | null;
  /** Primary first. */
  categories: CategoryRef[];
}

export interface CategoryView {
  id: number;
  slug: string;
  name: string;
  productCount: number;
}

function toProductView(row: ProductRow, categories: CategoryRef[]): ProductView {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    priceCents: row.price_cents,
    currency: row.currency,
    stockOnHand: row.stock_on_hand,
    stockReserved: row.stock_reserved,
    available: row.stock_on_hand - row.stock_reserved,
    lowStockThreshold: row.low_stock_threshold,
    category: row.category,
    categories,
  };
}

function groupByProduct(rows: ProductCategoryRow[]): Map<number, CategoryRef[]> {
  const byProduct = new Map<number, CategoryRef[]>();
  for (const row of rows) {
    const list = byProduct.get(row.product_id) ?? [];
    list.push({ slug: row.slug, name: row.name });
    byProduct.set(row.product_id, list);
  }
  return byProduct;
}

const productCursor = (row: ProductRow) => encodeCursor([row.id]);
const readProductCursor = (cursor: string) =>
  decodeCursor(cursor, ([id]) => (Number.isSafeInteger(id) && (id as number) >= 0 ? (id as number) : null));

export class CatalogService {
  private readonly catalog: CatalogRepository;

  constructor(private readonly ctx: AppContext) {
    this.catalog = new CatalogRepository(ctx.sequelize);
  }

  async listProducts(query: ListProductsQuery): Promise<{ products: ProductView[]; nextCursor: string | null }> {
    const rows = await this.catalog.listProducts({
      categorySlug: query.category,
      sku: query.sku,
      q: query.q?.trim(),
      afterId: query.cursor ? readProductCursor(query.cursor) : undefined,
      limit: query.limit,
    });
    // An empty page may mean a mistyped slug: say so rather than answer "no products".
    if (!rows.length && query.category && !(await this.catalog.findCategoriesBySlugs([query.category])).length) {
      throw new AppError('CATEGORY_NOT_FOUND', `Unknown category: ${query.category}`, { unknown: [query.category] });
    }
    const page = rows.slice(0, query.limit);
    return {
      products: await this.withCategories(page),
      nextCursor: rows.length > query.limit ? productCursor(page[page.length - 1]) : null,
    };
  }

  async getProduct(sku: string): Promise<ProductView> {
    const row = await this.catalog.findProductBySku(sku);
    if (!row) throw new AppError('PRODUCT_NOT_FOUND', `No product with SKU ${sku}`, { sku });
    const [product] = await this.withCategories([row]);
    return product;
  }

  async listCategories(): Promise<CategoryView[]> {
    const rows = await this.catalog.listCategories();
    return rows.map((r) => ({ id: r.id, slug: r.slug, name: r.name, productCount: Number(r.product_count) }));
  }

  /** Creates a category; its slug comes from the name unless given. Name (in any case) and slug are unique. */
  async createCategory(input: CreateCategoryInput): Promise<CategoryView> {
    const slug = input.slug ?? slugify(input.name);
    if (!slug) {
      throw new AppError('VALIDATION_FAILED', 'The request is not valid', [
        { path: 'slug', message: 'the name has no letters a-z or digits to make a slug from; give a slug' },
      ]);
    }
    const created = await this.catalog.insertCategory(input.name, slug);
    if (!created) {
      const clashes = await this.catalog.findCategoryClashes(input.name, slug);
      const fields = [
        ...(clashes.some((c) => c.name.toLowerCase() === input.name.toLowerCase()) ? ['name'] : []),
        ...(clashes.some((c) => c.slug === slug) ? ['slug'] : []),
      ];
      throw new AppError('CONFLICT', `A category with this ${fields.join(' and ') || 'name or slug'} already exists`, {
        fields,
        existing: clashes.map((c) => ({ slug: c.slug, name: c.name })),
      });
    }
    this.ctx.logger.info({ slug: created.slug }, 'category created');
    return { id: created.id, slug: created.slug, name: created.name, productCount: 0 };
  }

  /**
   * Sets a product's categories, the first being the primary, and keeps the legacy
   * "Products".category in step: the primary's name, or NULL for an empty list.
   * All or nothing: an unknown product or slug changes nothing.
   */
  async setProductCategories(sku: string, input: SetProductCategoriesInput): Promise<ProductView> {
    const existing = await this.catalog.findProductBySku(sku);
    if (!existing) throw new AppError('PRODUCT_NOT_FOUND', `No product with SKU ${sku}`, { sku });

    await this.ctx.sequelize.transaction(async (transaction) => {
      const found = await this.catalog.findCategoriesBySlugs(input.categories, transaction);
      const bySlug = new Map<string, CategoryRow>(found.map((c) => [c.slug, c]));
      const unknown = input.categories.filter((s) => !bySlug.has(s));
      if (unknown.length) {
        throw new AppError('CATEGORY_NOT_FOUND', `Unknown categor${unknown.length > 1 ? 'ies' : 'y'}: ${unknown.join(', ')}`, { unknown });
      }
      const ordered = input.categories.map((s) => bySlug.get(s)!);
      const productId = await this.catalog.setLegacyCategory(sku, ordered[0]?.name ?? null, transaction);
      if (productId === null) throw new AppError('PRODUCT_NOT_FOUND', `No product with SKU ${sku}`, { sku });
      await this.catalog.replaceLinks(productId, ordered.map((c) => c.id), transaction);
    });
    this.ctx.logger.info({ sku, categories: input.categories }, 'product categories set');
    return this.getProduct(sku);
  }

  private async withCategories(rows: ProductRow[]): Promise<ProductView[]> {
    const categories = groupByProduct(await this.catalog.categoriesOf(rows.map((r) => r.id)));
    return rows.map((row) => toProductView(row, categories.get(row.id) ?? []));
  }
}
