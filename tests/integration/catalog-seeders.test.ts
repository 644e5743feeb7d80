import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Sequelize } from 'sequelize';
import { registerModels } from '../../src/db/models';
import { Category, Product, ProductCategory } from '../../src/modules/catalog';
import { Order, OrderItem } from '../../src/modules/orders';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const SEEDER_FILE = '20261121110000-demo-catalog.js';

interface DemoProduct {
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  stockOnHand: number;
  lowStockThreshold: number;
  category: string;
}

const DEMO = (JSON.parse(fs.readFileSync(path.join(ROOT, 'seeders', 'data', 'demo-catalog.json'), 'utf8')) as { products: DemoProduct[] }).products;
const DEMO_SKUS = DEMO.map((p) => p.sku);

interface Seeder {
  up(queryInterface: unknown): Promise<void>;
  down(queryInterface: unknown): Promise<void>;
}
const seeder = require(path.join(ROOT, 'seeders', SEEDER_FILE)) as Seeder;

const bySku = (a: { sku: string }, b: { sku: string }) => (a.sku < b.sku ? -1 : 1);

/** The demo products with their categories, primary first. */
async function demoState() {
  const products = await Product.findAll({
    where: { sku: DEMO_SKUS },
    include: [{ association: 'categories', attributes: ['slug'], through: { attributes: [] } }],
    order: [[{ model: Category, as: 'categories' }, ProductCategory, 'position', 'ASC']],
  });
  return products
    .map((p) => ({
      sku: p.sku,
      name: p.name,
      priceCents: p.priceCents,
      stockOnHand: p.stockOnHand,
      lowStockThreshold: p.lowStockThreshold,
      category: p.category,
      slugs: (p.categories ?? []).map((c) => c.slug),
    }))
    .sort(bySku);
}

const expectedDemoState = () =>
  DEMO.map((p) => ({
    sku: p.sku,
    name: p.name,
    priceCents: p.priceCents,
    stockOnHand: p.stockOnHand,
    lowStockThreshold: p.lowStockThreshold,
    category: p.category,
    slugs: [p.category.trim().toLowerCase()],
  })).sort(bySku);

const categoriesById = () => Category.findAll({ attributes: ['id', 'name', 'slug'], order: [['id', 'ASC']], raw: true });

describe('demo catalog seeder', () => {
  let db: TestDatabase;
  let sequelize: Sequelize;

  beforeEach(async () => {
    db = await createTestDatabase();
    sequelize = registerModels(new Sequelize(db.url, { dialect: 'postgres', logging: false }));
  });

  afterEach(async () => {
    await sequelize.close();
    await db.drop();
  });

  it('when the seeder runs twice, then there are 19 demo products in 5 categories, each linked once, with the legacy column as given', async () => {
    await seeder.up(sequelize.getQueryInterface());
    const once = {
      products: await Product.count(),
      categories: await categoriesById(),
      links: await ProductCategory.count(),
      state: await demoState(),
    };
    await seeder.up(sequelize.getQueryInterface());

    expect(DEMO).toHaveLength(19);
    expect(once.products).toBe(19);
    expect(once.links).toBe(19);
    expect(once.categories.map(({ name, slug }) => ({ name, slug })).sort((a, b) => String(a.slug).localeCompare(String(b.slug)))).toEqual([
      { name: 'Brewing', slug: 'brewing' },
      { name: 'Coffee', slug: 'coffee' },
      { name: 'Mugs', slug: 'mugs' },
      { name: 'Snacks', slug: 'snacks' },
      { name: 'Tea', slug: 'tea' },
    ]);
    expect(once.state).toEqual(expectedDemoState());
    // The second run changed nothing.
    expect(await Product.count()).toBe(19);
    expect(await categoriesById()).toEqual(once.categories);
    expect(await ProductCategory.count()).toBe(19);
    expect(await demoState()).toEqual(once.state);
  });

  it('when the demo data is seeded, then at least one product is at or below its low-stock threshold', async () => {
    await seeder.up(sequelize.getQueryInterface());
    const low = await Product.scope('lowStock').findAll();
    expect(low.length).toBeGreaterThanOrEqual(1);
    expect(low.every((p) => p.isLow)).toBe(true);
  });

  it('when a demo SKU already exists unlinked and categories with the demo names or slugs exist, then the seeder keeps the product, reuses the category by name and picks a free slug', async () => {
    // Inserted after the backfill ran, by something that only knows the legacy column.
    await Product.create({ sku: 'COF-ESP-250', name: 'Our own espresso', priceCents: 999, currency: 'EUR', stockOnHand: 7, category: 'coffee' });
    await Category.bulkCreate([
      { name: 'COFFEE', slug: 'kaffee' },
      { name: 'Teas and more', slug: 'tea' },
    ]);

    await seeder.up(sequelize.getQueryInterface());
    await seeder.up(sequelize.getQueryInterface());

    const own = await Product.findOne({ attributes: ['name', 'priceCents', 'stockOnHand', 'category'], where: { sku: 'COF-ESP-250' }, raw: true });
    expect(own).toEqual({ name: 'Our own espresso', priceCents: 999, stockOnHand: 7, category: 'coffee' });
    const cats = await Category.findAll({ attributes: ['name', 'slug'], order: [['name', 'ASC']], raw: true });
    expect(cats.map((c) => c.name)).toEqual(['Brewing', 'COFFEE', 'Mugs', 'Snacks', 'Tea', 'Teas and more']);
    const tea = cats.find((c) => c.name === 'Tea')!;
    expect(tea.slug).toMatch(/^tea-[0-9a-f]{8}$/);
    const state = await demoState();
    expect(state.filter((s) => s.sku.startsWith('COF-')).map((s) => s.slugs)).toEqual([['kaffee'], ['kaffee'], ['kaffee'], ['kaffee']]);
    expect(state.filter((s) => s.sku.startsWith('TEA-')).map((s) => s.slugs)).toEqual(Array(4).fill([tea.slug]));
    expect(await ProductCategory.count()).toBe(19);
  });

  it('when a demo product\'s categories were changed afterwards, then seeding again does not add its legacy link back', async () => {
    await seeder.up(sequelize.getQueryInterface());
    // As PUT /products/MUG-CER-30/categories with an empty list leaves it.
    const mugId = (await Product.findOne({ attributes: ['id'], where: { sku: 'MUG-CER-30' } }))!.id;
    await ProductCategory.destroy({ where: { productId: mugId } });
    await Product.update({ category: null }, { where: { id: mugId } });
    await seeder.up(sequelize.getQueryInterface());
    const mug = (await demoState()).find((r) => r.sku === 'MUG-CER-30');
    expect(mug).toMatchObject({ category: null, slugs: [] });
  });

  it('when the seeder is undone, then the demo products and their categories are gone, except products some order refers to', async () => {
    await seeder.up(sequelize.getQueryInterface());
    const mug = (await Product.findOne({ where: { sku: 'MUG-CER-30' } }))!;
    const order = await Order.create({ id: '00000000-0000-4000-8000-000000000001', customerId: 'c1', totalCents: '1290', currency: 'EUR' });
    await OrderItem.create({ orderId: order.id, productId: mug.id, sku: mug.sku, name: mug.name, quantity: 1, unitPriceCents: mug.priceCents });
    await seeder.down(sequelize.getQueryInterface());
    expect(await Product.findAll({ attributes: ['sku'], raw: true })).toEqual([{ sku: 'MUG-CER-30' }]);
    expect(await Category.findAll({ attributes: ['name'], raw: true })).toEqual([{ name: 'Mugs' }]);
    expect(await ProductCategory.count()).toBe(1);
  });
});

describe('demo catalog through sequelize-cli', () => {
  let db: TestDatabase;
  let sequelize: Sequelize;

  beforeAll(async () => {
    db = await createTestDatabase();
    sequelize = registerModels(new Sequelize(db.url, { dialect: 'postgres', logging: false }));
  });

  afterAll(async () => {
    await sequelize.close();
    await db.drop();
  });

  const cli = (...args: string[]) =>
    run('npx', ['sequelize-cli', ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: db.url }, timeout: 60_000 });

  it('when npx sequelize-cli db:seed:all runs twice, then neither run fails and the second adds nothing', async () => {
    await cli('db:seed:all');
    const first = { products: await Product.count(), categories: await Category.count(), links: await ProductCategory.count() };
    await cli('db:seed:all');
    expect(first.products).toBeGreaterThanOrEqual(19);
    expect(await Product.count()).toBe(first.products);
    expect(await Category.count()).toBe(first.categories);
    expect(await ProductCategory.count()).toBe(first.links);
    expect(await demoState()).toEqual(expectedDemoState());
  });

  it('when db:seed:undo:all and db:seed:all run, then the demo catalog is back exactly once', async () => {
    await cli('db:seed:undo:all');
    expect(await Product.count({ where: { sku: DEMO_SKUS } })).toBe(0);
    await cli('db:seed:all');
    expect(await demoState()).toEqual(expectedDemoState());
  });
});
