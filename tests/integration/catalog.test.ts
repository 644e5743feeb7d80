import path from 'node:path';
import { Category, Product, ProductCategory, stockOverview } from '../../src/modules/catalog';
import { startTestApp, type TestApp } from '../helpers/test-app';

const ROOT = path.resolve(__dirname, '..', '..');
const seeder = require(path.join(ROOT, 'seeders', '20261121110000-demo-catalog.js')) as { up(queryInterface: unknown): Promise<void> };

/** The seeded categories; tests that write make their own products and categories and leave these as seeded. */
const SEEDED_SLUGS = ['brewing', 'coffee', 'mugs', 'snacks', 'tea'];

/** Everything the catalog endpoints can write (updated_at included, which the API does not show), to prove a refused request wrote nothing. */
async function catalogState(): Promise<unknown> {
  const [categories, links, products] = await Promise.all([
    Category.findAll({ order: [['id', 'ASC']], raw: true }),
    ProductCategory.findAll({ order: [['productId', 'ASC'], ['position', 'ASC']], raw: true }),
    Product.findAll({ attributes: ['sku', 'category', 'updatedAt'], order: [['id', 'ASC']], raw: true }),
  ]);
  return { categories, links, products };
}

let counter = 0;
const unique = () => `${process.pid}-${Date.now().toString(36)}-${(counter += 1)}`;

/** A product of this test alone, in no category; its name matches none of the searches below. */
function newProduct(fields: { category?: string | null } = {}): Promise<Product> {
  const sku = `CAT-T-${unique()}`.toUpperCase();
  return Product.create({ sku, name: `Test product ${sku}`, priceCents: 1250, currency: 'EUR', stockOnHand: 10, category: fields.category ?? null });
}

/** A category of this test alone, created through the API. */
async function newCategory(t: TestApp, name = `Shelf ${unique()}`): Promise<{ slug: string; name: string }> {
  const res = await t.http.post('/categories').send({ name, slug: `shelf-${unique()}` }).expect(201);
  return { slug: res.body.category.slug, name: res.body.category.name };
}

async function legacyCategory(t: TestApp, sku: string): Promise<string | null> {
  const res = await t.http.get(`/products/${sku}`).expect(200);
  return res.body.product.category;
}

const skus = (body: { products: Array<{ sku: string }> }) => body.products.map((p) => p.sku);

describe('catalog API', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
    await seeder.up(t.ctx.sequelize.getQueryInterface());
    await Product.update({ stockReserved: 1 }, { where: { sku: 'TEA-HRB-050' } });
  });

  afterAll(async () => {
    await t.stop();
  });

  describe('reading products', () => {
    it('when a product is fetched by SKU, then it shows prices in cents, stock, availability, the legacy category and its categories', async () => {
      const res = await t.http.get('/products/TEA-HRB-050');
      expect(res.status).toBe(200);
      expect(res.body.product).toEqual({
        id: expect.any(Number),
        sku: 'TEA-HRB-050',
        name: 'Herbal tea 50 g',
        priceCents: 590,
        currency: 'EUR',
        stockOnHand: 3,
        stockReserved: 1,
        available: 2,
        lowStockThreshold: 5,
        category: 'Tea',
        categories: [{ slug: 'tea', name: 'Tea' }],
      });
    });

    it('when an unknown SKU is fetched, then 404 PRODUCT_NOT_FOUND', async () => {
      const res = await t.http.get('/products/NOPE-1');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('PRODUCT_NOT_FOUND');
    });

    it('when products are filtered by category slug, then only that category\'s products come back, whatever the case or spacing of their legacy value', async () => {
      const res = await t.http.get('/products?category=coffee');
      expect(res.status).toBe(200);
      expect(skus(res.body).sort()).toEqual(['COF-CAP-10', 'COF-DEC-250', 'COF-ESP-250', 'COF-FIL-500']);
      expect(res.body.products.map((p: { category: string }) => p.category).sort()).toEqual([' coffee', 'COFFEE', 'Coffee', 'Coffee']);
      for (const p of res.body.products) expect(p.categories).toEqual([{ slug: 'coffee', name: 'Coffee' }]);
      expect(res.body.nextCursor).toBeNull();
    });

    it('when products are filtered by a category slug that does not exist, then 404 CATEGORY_NOT_FOUND names it', async () => {
      const res = await t.http.get('/products?category=no-such-category');
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'CATEGORY_NOT_FOUND', details: { unknown: ['no-such-category'] } });
    });

    it('when products are filtered by a category that exists but holds no product, then the list is empty', async () => {
      const empty = await newCategory(t);
      const res = await t.http.get('/products').query({ category: empty.slug });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ products: [], nextCursor: null });
    });

    it('when products are filtered by SKU, then exactly that product comes back', async () => {
      const res = await t.http.get('/products?sku=MUG-GLS-25');
      expect(res.status).toBe(200);
      expect(skus(res.body)).toEqual(['MUG-GLS-25']);
      expect((await t.http.get('/products?sku=MUG-GLS')).body.products).toEqual([]);
    });

    it('when products are searched with q, then names match case-insensitively and % or _ are taken literally', async () => {
      const tea = await t.http.get('/products?q=TEA');
      expect(tea.status).toBe(200);
      expect(skus(tea.body).sort()).toEqual(['TEA-BLK-100', 'TEA-GRN-100', 'TEA-HRB-050']);
      expect(skus((await t.http.get('/products').query({ q: '70%' })).body)).toEqual(['SNK-CHO-70']);
      expect(skus((await t.http.get('/products').query({ q: '%' })).body)).toEqual(['SNK-CHO-70']);
      expect(skus((await t.http.get('/products').query({ q: '_' })).body)).toEqual([]);
    });

    it('when filters are combined, then all of them apply', async () => {
      const res = await t.http.get('/products').query({ category: 'snacks', q: 'chocolate' });
      expect(skus(res.body)).toEqual(['SNK-CHO-70']);
      expect((await t.http.get('/products').query({ category: 'tea', q: 'chocolate' })).body.products).toEqual([]);
    });

    it('when all products are read page by page, then each appears exactly once, in id order, and the last page has no next cursor', async () => {
      const all = await Product.findAll({ attributes: ['sku'], order: [['id', 'ASC']] });
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await t.http.get('/products').query({ limit: 5, ...(cursor ? { cursor } : {}) });
        expect(res.status).toBe(200);
        expect(res.body.products.length).toBeLessThanOrEqual(5);
        seen.push(...skus(res.body));
        cursor = res.body.nextCursor ?? undefined;
        pages += 1;
      } while (cursor && pages < 50);
      expect(seen).toEqual(all.map((r) => r.sku));
      expect(pages).toBe(Math.ceil(all.length / 5));
    });

    it('when a filtered list is paged, then the filter holds on every page', async () => {
      const first = await t.http.get('/products').query({ category: 'tea', limit: 3 });
      expect(first.body.products).toHaveLength(3);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const second = await t.http.get('/products').query({ category: 'tea', limit: 3, cursor: first.body.nextCursor });
      expect(second.body.products).toHaveLength(1);
      expect(second.body.nextCursor).toBeNull();
      expect([...skus(first.body), ...skus(second.body)].sort()).toEqual(['TEA-BLK-100', 'TEA-GRN-100', 'TEA-HRB-050', 'TEA-MAT-030']);
    });

    it('when a product has only the legacy column (written by something that does not know categories), then it shows that value and no categories', async () => {
      const legacy = await newProduct({ category: 'Coffee' });
      try {
        const res = await t.http.get(`/products/${legacy.sku}`);
        expect(res.body.product).toMatchObject({ category: 'Coffee', categories: [] });
        expect(skus((await t.http.get('/products?category=coffee')).body)).not.toContain(legacy.sku);
      } finally {
        // The seeded-coffee assertions above count products: leave none behind.
        await legacy.destroy();
      }
    });

    it.each([
      ['limit above 100', { limit: 101 }, 'limit'],
      ['limit 0', { limit: 0 }, 'limit'],
      ['a limit that is not a number', { limit: 'ten' }, 'limit'],
      ['a cursor this API did not give out', { cursor: 'not-a-cursor' }, 'cursor'],
      ['a category that is not a slug', { category: 'Coffee Beans' }, 'category'],
      ['an empty q', { q: '' }, 'q'],
      ['an unknown parameter', { colour: 'red' }, 'colour'],
    ])('when the list is asked with %s, then 400 VALIDATION_FAILED names the parameter', async (_label, query, field) => {
      const res = await t.http.get('/products').query(query);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
    });

    it.each([
      ['a SKU', () => t.http.get('/products/A%00B')],
      ['the sku filter', () => t.http.get('/products').query({ sku: 'A\u0000B' })],
      ['q', () => t.http.get('/products').query({ q: 'tea\u0000' })],
    ])('when %s holds a NUL character, then 400 VALIDATION_FAILED as for any text the database cannot store', async (_label, send) => {
      const res = await send();
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '(request)' }] });
    });

    it('when the same filter is given twice, then 400 VALIDATION_FAILED', async () => {
      const res = await t.http.get('/products?category=tea&category=coffee');
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('when a method the route does not support is used, then 405 with Allow', async () => {
      const post = await t.http.post('/products').send({});
      expect(post.status).toBe(405);
      expect(post.body.error.code).toBe('METHOD_NOT_ALLOWED');
      expect(post.headers.allow).toContain('GET');
      expect((await t.http.delete('/products/TEA-HRB-050')).status).toBe(405);
      expect((await t.http.get('/products/TEA-HRB-050/categories')).status).toBe(405);
      expect((await t.http.delete('/categories')).status).toBe(405);
    });
  });

  describe('categories', () => {
    it('when categories are listed, then each shows its slug, name and product count', async () => {
      const res = await t.http.get('/categories');
      expect(res.status).toBe(200);
      const seeded = res.body.categories.filter((c: { slug: string }) => SEEDED_SLUGS.includes(c.slug));
      expect(seeded.map(({ slug, name, productCount }: Record<string, unknown>) => ({ slug, name, productCount }))).toEqual([
        { slug: 'brewing', name: 'Brewing', productCount: 4 },
        { slug: 'coffee', name: 'Coffee', productCount: 4 },
        { slug: 'mugs', name: 'Mugs', productCount: 3 },
        { slug: 'snacks', name: 'Snacks', productCount: 4 },
        { slug: 'tea', name: 'Tea', productCount: 4 },
      ]);
    });

    it('when a category is created with a name only, then 201 with a slug made from the name, and it is listed with 0 products', async () => {
      const res = await t.http.post('/categories').send({ name: 'Gift Cards & Vouchers' });
      expect(res.status).toBe(201);
      expect(res.body.category).toEqual({ id: expect.any(Number), slug: 'gift-cards-vouchers', name: 'Gift Cards & Vouchers', productCount: 0 });
      const list = await t.http.get('/categories');
      expect(list.body.categories).toContainEqual(res.body.category);
    });

    it('when a category is created with its own slug, then that slug is used', async () => {
      const res = await t.http.post('/categories').send({ name: 'Cold brew', slug: 'cold-brew-kits' });
      expect(res.status).toBe(201);
      expect(res.body.category).toMatchObject({ slug: 'cold-brew-kits', name: 'Cold brew' });
    });

    it.each([
      ['the same name in another case', { name: 'COFFEE' }, ['name', 'slug']],
      ['a new name whose slug is taken', { name: 'Kaffee', slug: 'coffee' }, ['slug']],
      ['a taken name with a new slug', { name: 'tea', slug: 'tea-2' }, ['name']],
    ])('when a category is created with %s, then 409 CONFLICT names the field and nothing is written', async (_label, body, fields) => {
      const before = await catalogState();
      const res = await t.http.post('/categories').send(body);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('CONFLICT');
      expect(res.body.error.details.fields).toEqual(fields);
      expect(await catalogState()).toEqual(before);
    });

    it.each([
      ['no body', undefined],
      ['no name', { slug: 'x' }],
      ['an empty name', { name: '' }],
      ['a name with surrounding spaces', { name: ' Tea ' }],
      ['a name that is not a string', { name: 42 }],
      ['a name longer than 100 characters', { name: 'x'.repeat(101) }],
      ['a slug with capitals and spaces', { name: 'Beans', slug: 'Whole Beans' }],
      ['a slug with a double hyphen', { name: 'Beans', slug: 'whole--beans' }],
      ['an unknown field', { name: 'Beans', parent: 'coffee' }],
      ['a name with nothing to make a slug from', { name: '茶' }],
      ['an array', [{ name: 'Beans' }]],
    ])('when a category is created with %s, then 400 VALIDATION_FAILED and nothing is written', async (_label, body) => {
      const before = await catalogState();
      const req = t.http.post('/categories');
      const res = body === undefined ? await req : await req.send(body as object);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(await catalogState()).toEqual(before);
    });

    it('when a category is created from a non-Latin name with an explicit slug, then 201', async () => {
      const res = await t.http.post('/categories').send({ name: '茶', slug: 'cha' });
      expect(res.status).toBe(201);
      expect(res.body.category).toMatchObject({ name: '茶', slug: 'cha' });
    });

    it('when the body is not valid JSON, then 400 INVALID_JSON', async () => {
      const res = await t.http.post('/categories').set('Content-Type', 'application/json').send('{"name": ');
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_JSON');
    });
  });

  describe('stock overview (the admin stock view)', () => {
    it('when the overview is read, then products at or below their threshold come first, each group by SKU, with totals over all products', async () => {
      const low = await Product.create({ sku: `CAT-LOW-${unique()}`.toUpperCase(), name: 'Nearly gone', priceCents: 100, currency: 'EUR', stockOnHand: 5, lowStockThreshold: 5 });
      try {
        const everything = await t.http.get('/products').query({ limit: 100 }).expect(200);
        expect(everything.body.nextCursor).toBeNull();
        const all: Array<{ sku: string; available: number; lowStockThreshold: number }> = everything.body.products;
        const lowCount = all.filter((p) => p.available <= p.lowStockThreshold).length;

        const overview = await stockOverview(500);
        expect(overview.total).toBe(all.length);
        expect(overview.low).toBe(lowCount);
        expect(overview.products).toHaveLength(all.length);
        expect(overview.products.slice(0, lowCount).every((p) => p.low)).toBe(true);
        expect(overview.products.slice(lowCount).every((p) => !p.low)).toBe(true);
        const lowSkus = overview.products.filter((p) => p.low).map((p) => p.sku);
        expect(lowSkus.filter((sku) => [low.sku, 'SNK-CRO-06', 'TEA-HRB-050'].includes(sku))).toEqual([low.sku, 'SNK-CRO-06', 'TEA-HRB-050']);
        // Reserved units count against availability (TEA-HRB-050 has 1 of its 3 reserved).
        expect(overview.products.find((p) => p.sku === 'TEA-HRB-050')).toEqual({
          sku: 'TEA-HRB-050',
          name: 'Herbal tea 50 g',
          onHand: 3,
          reserved: 1,
          available: 2,
          lowStockThreshold: 5,
          low: true,
        });

        const first = await stockOverview(1);
        expect(first).toEqual({ products: [overview.products[0]], total: overview.total, low: overview.low });
      } finally {
        await low.destroy();
      }
    });
  });

  describe("setting a product's categories", () => {
    it('when categories are set, then the first is primary, the legacy column holds its name, and both category filters find the product', async () => {
      const product = await newProduct();
      const [first, second] = [await newCategory(t), await newCategory(t)];
      const res = await t.http.put(`/products/${product.sku}/categories`).send({ categories: [first.slug, second.slug] });
      expect(res.status).toBe(200);
      expect(res.body.product).toMatchObject({ sku: product.sku, category: first.name, categories: [first, second] });
      expect(await legacyCategory(t, product.sku)).toBe(first.name);
      // A legacy reader, which knows only the column, now sees the product under its primary category.
      const legacyReaders = await Product.findAll({ attributes: ['sku'], where: { category: first.name } });
      expect(legacyReaders.map((p) => p.sku)).toEqual([product.sku]);
      expect(skus((await t.http.get('/products').query({ category: first.slug })).body)).toEqual([product.sku]);
      expect(skus((await t.http.get('/products').query({ category: second.slug })).body)).toEqual([product.sku]);
      expect((await t.http.get(`/products/${product.sku}`)).body.product.categories.map((c: { slug: string }) => c.slug)).toEqual([first.slug, second.slug]);
    });

    it('when the order is changed, then the new first category becomes primary, the legacy column follows, and the product stays in both', async () => {
      const product = await newProduct();
      const [first, second] = [await newCategory(t), await newCategory(t)];
      await t.http.put(`/products/${product.sku}/categories`).send({ categories: [first.slug, second.slug] }).expect(200);
      const res = await t.http.put(`/products/${product.sku}/categories`).send({ categories: [second.slug, first.slug] });
      expect(res.status).toBe(200);
      expect(res.body.product.category).toBe(second.name);
      expect(res.body.product.categories).toEqual([second, first]);
      expect(await legacyCategory(t, product.sku)).toBe(second.name);
      const counts = (await t.http.get('/categories')).body.categories as Array<{ slug: string; productCount: number }>;
      expect(counts.find((c) => c.slug === first.slug)?.productCount).toBe(1);
      expect(counts.find((c) => c.slug === second.slug)?.productCount).toBe(1);
    });

    it('when the list is set to empty, then the product has no categories and the legacy column is NULL', async () => {
      const product = await newProduct();
      const shelf = await newCategory(t);
      await t.http.put(`/products/${product.sku}/categories`).send({ categories: [shelf.slug] }).expect(200);
      const res = await t.http.put(`/products/${product.sku}/categories`).send({ categories: [] });
      expect(res.status).toBe(200);
      expect(res.body.product).toMatchObject({ category: null, categories: [] });
      expect(await legacyCategory(t, product.sku)).toBeNull();
      expect(skus((await t.http.get('/products').query({ category: shelf.slug })).body)).not.toContain(product.sku);
    });

    it('when a newly created category is set, then its name goes to the legacy column as written', async () => {
      const product = await newProduct();
      const travel = await newCategory(t, `Travel Gear ${unique()}`);
      const other = await newCategory(t);
      const res = await t.http.put(`/products/${product.sku}/categories`).send({ categories: [travel.slug, other.slug] });
      expect(res.status).toBe(200);
      expect(travel.name).toMatch(/^Travel Gear /);
      expect(await legacyCategory(t, product.sku)).toBe(travel.name);
    });

    it('when a slug is unknown, then 404 CATEGORY_NOT_FOUND names every unknown slug and nothing changes', async () => {
      const before = await catalogState();
      const res = await t.http.put('/products/COF-ESP-250/categories').send({ categories: ['coffee', 'nope', 'nada'] });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('CATEGORY_NOT_FOUND');
      expect(res.body.error.message).toContain('nope');
      expect(res.body.error.message).toContain('nada');
      expect(res.body.error.details).toEqual({ unknown: ['nope', 'nada'] });
      expect(await catalogState()).toEqual(before);
    });

    it('when the product is unknown, then 404 PRODUCT_NOT_FOUND and nothing changes', async () => {
      const before = await catalogState();
      const res = await t.http.put('/products/NOPE-1/categories').send({ categories: ['coffee'] });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('PRODUCT_NOT_FOUND');
      expect(await catalogState()).toEqual(before);
    });

    it.each([
      ['no body', undefined],
      ['no categories field', {}],
      ['categories as a string', { categories: 'coffee' }],
      ['the same slug twice', { categories: ['coffee', 'coffee'] }],
      ['a name instead of a slug', { categories: ['Coffee'] }],
      ['a slug that is not a string', { categories: [1] }],
      ['more than 20 categories', { categories: Array.from({ length: 21 }, (_, i) => `c${i}`) }],
      ['an unknown field', { categories: ['coffee'], primary: 'coffee' }],
    ])('when categories are set with %s, then 400 VALIDATION_FAILED and nothing changes', async (_label, body) => {
      const before = await catalogState();
      const req = t.http.put('/products/COF-ESP-250/categories');
      const res = body === undefined ? await req : await req.send(body as object);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(await catalogState()).toEqual(before);
    });

    it('when two requests set the same product\'s categories at once, then the links and the legacy column agree afterwards', async () => {
      const product = await newProduct();
      const [a, b] = [await newCategory(t), await newCategory(t)];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          t.http.put(`/products/${product.sku}/categories`).send({ categories: i % 2 ? [a.slug, b.slug] : [b.slug, a.slug] }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      const after = (await t.http.get(`/products/${product.sku}`)).body.product;
      expect(after.categories).toHaveLength(2);
      expect(after.category).toBe(after.categories[0].name);
    });
  });
});
