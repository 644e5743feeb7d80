import { Op, UniqueConstraintError, col, fn, where as sqlWhere, type WhereOptions } from 'sequelize';
import type { AppContext } from '../../context';
import { AppError, refuseNul } from '../../shared/errors';
import { decodeCursor, encodeCursor } from '../../shared/cursor';
import { isLowStock } from './data/stock-level';
import { Category, Product, ProductCategory } from './models';
import { slugify, type CreateCategoryInput, type ListProductsQuery, type SetProductCategoriesInput } from './schemas';

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

export interface StockLevelView {
  sku: string;
  name: string;
  onHand: number;
  reserved: number;
  available: number;
  lowStockThreshold: number;
  low: boolean;
}

const toCategoryRef = (category: Category): CategoryRef => ({ slug: category.slug, name: category.name });

/** The API's view of a product; `categories` defaults to the loaded `categories` include, primary first. */
export function toProductView(product: Product, categories: CategoryRef[] = (product.categories ?? []).map(toCategoryRef)): ProductView {
  return {
    id: product.id,
    sku: product.sku,
    name: product.name,
    priceCents: product.priceCents,
    currency: product.currency,
    stockOnHand: product.stockOnHand,
    stockReserved: product.stockReserved,
    available: product.available,
    lowStockThreshold: product.lowStockThreshold,
    category: product.category,
    categories,
  };
}

/** Escapes LIKE's wildcards so a search for "70%" means the text "70%". */
function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const PRODUCT_NOT_FOUND = (sku: string) => new AppError('PRODUCT_NOT_FOUND', `No product with SKU ${sku}`, { sku });

const productCursor = (product: Product) => encodeCursor([product.id]);
const readProductCursor = (cursor: string) =>
  decodeCursor(cursor, ([id]) => (Number.isSafeInteger(id) && (id as number) >= 0 ? (id as number) : null));

/** The admin stock view: the first `limit` products, low stock first, then by SKU, with totals over all products. */
export async function stockOverview(limit: number): Promise<{ products: StockLevelView[]; total: number; low: number }> {
  const [products, total, low] = await Promise.all([
    Product.findAll({
      attributes: ['sku', 'name', 'stockOnHand', 'stockReserved', 'lowStockThreshold'],
      order: [
        [isLowStock(), 'DESC'],
        ['sku', 'ASC'],
      ],
      limit,
    }),
    Product.count(),
    Product.scope('lowStock').count(),
  ]);
  return {
    products: products.map((p) => ({
      sku: p.sku,
      name: p.name,
      onHand: p.stockOnHand,
      reserved: p.stockReserved,
      available: p.available,
      lowStockThreshold: p.lowStockThreshold,
      low: p.isLow,
    })),
    total,
    low,
  };
}

export class CatalogService {
  constructor(private readonly ctx: AppContext) {}

  /** In id order, one page after the cursor; asks for one product more than `limit` to tell whether a next page exists. */
  async listProducts(query: ListProductsQuery): Promise<{ products: ProductView[]; nextCursor: string | null }> {
    const q = query.q?.trim();
    refuseNul(query.sku, q);
    const afterId = query.cursor ? readProductCursor(query.cursor) : undefined;
    const filter: WhereOptions<Product> = {
      ...(query.sku ? { sku: query.sku } : {}),
      ...(q ? { name: { [Op.iLike]: likeContains(q) } } : {}),
      ...(afterId !== undefined ? { id: { [Op.gt]: afterId } } : {}),
    };
    const rows = await Product.findAll({
      where: filter,
      // An inner join on the one category: a product has at most one link to it, so no duplicates and no subquery.
      include: query.category
        ? [{ association: 'categories', where: { slug: query.category }, attributes: [], through: { attributes: [] }, required: true }]
        : [],
      subQuery: false,
      order: [['id', 'ASC']],
      limit: query.limit + 1,
    });
    // An empty page may mean a mistyped slug: say so rather than answer "no products".
    if (!rows.length && query.category && !(await Category.count({ where: { slug: query.category } }))) {
      throw new AppError('CATEGORY_NOT_FOUND', `Unknown category: ${query.category}`, { unknown: [query.category] });
    }
    const page = rows.slice(0, query.limit);
    return {
      products: await this.withCategories(page),
      nextCursor: rows.length > query.limit ? productCursor(page[page.length - 1]) : null,
    };
  }

  async getProduct(sku: string): Promise<ProductView> {
    refuseNul(sku);
    const product = await Product.findOne({
      where: { sku },
      include: [{ association: 'categories', attributes: ['slug', 'name'], through: { attributes: [] } }],
      order: [[{ model: Category, as: 'categories' }, ProductCategory, 'position', 'ASC']],
    });
    if (!product) throw PRODUCT_NOT_FOUND(sku);
    return toProductView(product);
  }

  async listCategories(): Promise<CategoryView[]> {
    const categories = await Category.findAll({
      attributes: ['id', 'name', 'slug', [fn('count', col('links.product_id')), 'productCount']],
      include: [{ association: 'links', attributes: [] }],
      group: ['Category.id'],
      order: [
        ['name', 'ASC'],
        ['id', 'ASC'],
      ],
    });
    return categories.map((c) => ({ id: c.id, slug: c.slug, name: c.name, productCount: Number(c.get('productCount')) }));
  }

  /** Creates a category; its slug comes from the name unless given. Name (in any case) and slug are unique. */
  async createCategory(input: CreateCategoryInput): Promise<CategoryView> {
    const slug = input.slug ?? slugify(input.name);
    if (!slug) {
      throw new AppError('VALIDATION_FAILED', 'The request is not valid', [
        { path: 'slug', message: 'the name has no letters a-z or digits to make a slug from; give a slug' },
      ]);
    }
    let created: Category;
    try {
      created = await Category.create({ name: input.name, slug });
    } catch (error) {
      if (!(error instanceof UniqueConstraintError)) throw error;
      const clashes = await Category.findAll({
        attributes: ['id', 'name', 'slug'],
        where: { [Op.or]: [sqlWhere(fn('lower', col('name')), fn('lower', input.name)), { slug }] },
        order: [['id', 'ASC']],
      });
      const fields = [
        ...(clashes.some((c) => c.name.toLowerCase() === input.name.toLowerCase()) ? ['name'] : []),
        ...(clashes.some((c) => c.slug === slug) ? ['slug'] : []),
      ];
      throw new AppError('CONFLICT', `A category with this ${fields.join(' and ') || 'name or slug'} already exists`, {
        fields,
        existing: clashes.map(toCategoryRef),
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
    refuseNul(sku);
    if (!(await Product.count({ where: { sku } }))) throw PRODUCT_NOT_FOUND(sku);

    await this.ctx.sequelize.transaction(async (transaction) => {
      // KEY SHARE keeps the categories from being deleted before this transaction links them.
      const found = input.categories.length
        ? await Category.findAll({ attributes: ['id', 'name', 'slug'], where: { slug: input.categories }, lock: transaction.LOCK.KEY_SHARE, transaction })
        : [];
      const bySlug = new Map(found.map((c) => [c.slug, c]));
      const unknown = input.categories.filter((s) => !bySlug.has(s));
      if (unknown.length) {
        throw new AppError('CATEGORY_NOT_FOUND', `Unknown categor${unknown.length > 1 ? 'ies' : 'y'}: ${unknown.join(', ')}`, { unknown });
      }
      const ordered = input.categories.map((s) => bySlug.get(s)!);
      // Writing the legacy column first row-locks the product, which serialises concurrent changes of its categories.
      const [, updated] = await Product.update({ category: ordered[0]?.name ?? null }, { where: { sku }, returning: ['id'], transaction });
      const productId = updated[0]?.id;
      if (productId === undefined) throw PRODUCT_NOT_FOUND(sku);
      await ProductCategory.destroy({ where: { productId }, transaction });
      if (ordered.length) {
        await ProductCategory.bulkCreate(
          ordered.map((c, position) => ({ productId, categoryId: c.id, position })),
          { transaction },
        );
      }
    });
    this.ctx.logger.info({ sku, categories: input.categories }, 'product categories set');
    return this.getProduct(sku);
  }

  /** The page's categories in one query, primary first. */
  private async withCategories(products: Product[]): Promise<ProductView[]> {
    if (!products.length) return [];
    const links = await ProductCategory.findAll({
      attributes: ['productId'],
      where: { productId: products.map((p) => p.id) },
      include: [{ association: 'category', attributes: ['slug', 'name'] }],
      order: [
        ['productId', 'ASC'],
        ['position', 'ASC'],
      ],
    });
    const byProduct = new Map<number, CategoryRef[]>();
    for (const link of links) {
      const list = byProduct.get(link.productId) ?? [];
      list.push(toCategoryRef(link.category!));
      byProduct.set(link.productId, list);
    }
    return products.map((p) => toProductView(p, byProduct.get(p.id) ?? []));
  }
}
