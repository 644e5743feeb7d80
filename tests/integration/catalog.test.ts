import path from 'node:path';
import { createProduct, startTestApp, type TestApp } from '../helpers/test-app';

const ROOT = path.resolve(__dirname, '..', '..');
const seeder = require(path.join(ROOT, 'seeders', '20261121110000-demo-catalog.js')) as { up(queryInterface: unknown): Promise<void> };

/** Everything the catalog endpoints can write, to prove a refused request wrote nothing. */
async function catalogState(t: TestApp): Promise<unknown> {
  const [row] = await t.query(
    `SELECT (SELECT json_agg(c ORDER BY c.id) FROM "Categories" c) AS categories,
            (SELECT json_agg(pc ORDER BY pc.product_id, pc.position) FROM "Product_Categories" pc) AS links,
            (SELECT json_agg(json_build_object('sku', p.sku, 'category', p.category, 'updated_at', p.updated_at) ORDER BY p.id) FROM "Products" p) AS products`,
  );
  return row;
}

async function legacyCategory(t: TestApp, sku: string): Promise<string | null> {
  const [row] = await t.query<{ category: string | null }>('SELECT category FROM "Products" WHERE sku = $1', [sku]);
  return row.category;
}

const skus = (body: { products: Array<{ sku: string }> }) => body.products.map((p) => p.sku);

describe('catalog API', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
    await seeder.up(t.ctx.sequelize.getQueryInterface());
    await t.query(`UPDATE "Products" SET stock_reserved = 1 WHERE sku = 'TEA-HRB-050'`);
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
      // Added and removed here so the category listings below stay exactly the seeded ones.
      await t.query(`INSERT INTO "Categories" (name, slug) VALUES ('Empty shelf', 'empty-shelf')`);
      try {
        const res = await t.http.get('/products?category=empty-shelf');
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ products: [], nextCursor: null });
      } finally {
        await t.query(`DELETE FROM "Categories" WHERE slug = 'empty-shelf'`);
      }
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
      const all = await t.query<{ sku: string }>('SELECT sku FROM "Products" ORDER BY id');
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
      const legacy = await createProduct(t, { category: 'Coffee' });
      const res = await t.http.get(`/products/${legacy.sku}`);
      expect(res.body.product).toMatchObject({ category: 'Coffee', categories: [] });
      await t.query('DELETE FROM "Products" WHERE id = $1', [legacy.id]);
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
      expect(res.body.categories.map(({ slug, name, productCount }: Record<string, unknown>) => ({ slug, name, productCount }))).toEqual([
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
      const before = await catalogState(t);
      const res = await t.http.post('/categories').send(body);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('CONFLICT');
      expect(res.body.error.details.fields).toEqual(fields);
      expect(await catalogState(t)).toEqual(before);
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
      const before = await catalogState(t);
      const req = t.http.post('/categories');
      const res = body === undefined ? await req : await req.send(body as object);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(await catalogState(t)).toEqual(before);
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

  describe("setting a product's categories", () => {
    it('when categories are set, then the first is primary, the legacy column holds its name, and both category filters find the product', async () => {
      const res = await t.http.put('/products/COF-ESP-250/categories').send({ categories: ['tea', 'coffee'] });
      expect(res.status).toBe(200);
      expect(res.body.product).toMatchObject({
        sku: 'COF-ESP-250',
        category: 'Tea',
        categories: [
          { slug: 'tea', name: 'Tea' },
          { slug: 'coffee', name: 'Coffee' },
        ],
      });
      expect(await legacyCategory(t, 'COF-ESP-250')).toBe('Tea');
      // A legacy reader now sees the product under its primary category.
      const legacyReaders = await t.query<{ sku: string }>(`SELECT sku FROM "Products" WHERE category = $1 ORDER BY sku`, ['Tea']);
      expect(legacyReaders.map((r) => r.sku)).toContain('COF-ESP-250');
      expect(skus((await t.http.get('/products?category=tea')).body)).toContain('COF-ESP-250');
      expect(skus((await t.http.get('/products?category=coffee')).body)).toContain('COF-ESP-250');
      expect((await t.http.get('/products/COF-ESP-250')).body.product.categories.map((c: { slug: string }) => c.slug)).toEqual(['tea', 'coffee']);
    });

    it('when the order is changed, then the new first category becomes primary and the legacy column follows', async () => {
      const res = await t.http.put('/products/COF-ESP-250/categories').send({ categories: ['coffee', 'tea'] });
      expect(res.status).toBe(200);
      expect(res.body.product.category).toBe('Coffee');
      expect(await legacyCategory(t, 'COF-ESP-250')).toBe('Coffee');
      const counts = (await t.http.get('/categories')).body.categories as Array<{ slug: string; productCount: number }>;
      expect(counts.find((c) => c.slug === 'tea')?.productCount).toBe(5);
    });

    it('when the list is set to empty, then the product has no categories and the legacy column is NULL', async () => {
      const res = await t.http.put('/products/MUG-TRV-35/categories').send({ categories: [] });
      expect(res.status).toBe(200);
      expect(res.body.product).toMatchObject({ category: null, categories: [] });
      expect(await legacyCategory(t, 'MUG-TRV-35')).toBeNull();
      expect(skus((await t.http.get('/products?category=mugs')).body)).not.toContain('MUG-TRV-35');
    });

    it('when a newly created category is set, then its name goes to the legacy column as written', async () => {
      await t.http.post('/categories').send({ name: 'Travel Gear', slug: 'travel' }).expect(201);
      const res = await t.http.put('/products/MUG-TRV-35/categories').send({ categories: ['travel', 'mugs'] });
      expect(res.status).toBe(200);
      expect(await legacyCategory(t, 'MUG-TRV-35')).toBe('Travel Gear');
    });

    it('when a slug is unknown, then 404 CATEGORY_NOT_FOUND names every unknown slug and nothing changes', async () => {
      const before = await catalogState(t);
      const res = await t.http.put('/products/COF-ESP-250/categories').send({ categories: ['coffee', 'nope', 'nada'] });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('CATEGORY_NOT_FOUND');
      expect(res.body.error.message).toContain('nope');
      expect(res.body.error.message).toContain('nada');
      expect(res.body.error.details).toEqual({ unknown: ['nope', 'nada'] });
      expect(await catalogState(t)).toEqual(before);
    });

    it('when the product is unknown, then 404 PRODUCT_NOT_FOUND and nothing changes', async () => {
      const before = await catalogState(t);
      const res = await t.http.put('/products/NOPE-1/categories').send({ categories: ['coffee'] });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('PRODUCT_NOT_FOUND');
      expect(await catalogState(t)).toEqual(before);
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
      const before = await catalogState(t);
      const req = t.http.put('/products/COF-ESP-250/categories');
      const res = body === undefined ? await req : await req.send(body as object);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(await catalogState(t)).toEqual(before);
    });

    it('when two requests set the same product\'s categories at once, then the links and the legacy column agree afterwards', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          t.http.put('/products/BRW-KTL-10/categories').send({ categories: i % 2 ? ['brewing', 'mugs'] : ['mugs', 'brewing'] }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      const [row] = await t.query<{ category: string; primary_name: string; n: string }>(
        `SELECT p.category, c.name AS primary_name, (SELECT count(*) FROM "Product_Categories" x WHERE x.product_id = p.id) AS n
         FROM "Products" p JOIN "Product_Categories" pc ON pc.product_id = p.id AND pc.position = 0
         JOIN "Categories" c ON c.id = pc.category_id WHERE p.sku = 'BRW-KTL-10'`,
      );
      expect(row.category).toBe(row.primary_name);
      expect(Number(row.n)).toBe(2);
    });
  });
});
