import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { QueryTypes, Sequelize } from 'sequelize';
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

type Row = Record<string, unknown>;

function select<T extends object = Row>(sequelize: Sequelize, sql: string, bind: unknown[] = []): Promise<T[]> {
  return sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT });
}

async function count(sequelize: Sequelize, sql: string, bind: unknown[] = []): Promise<number> {
  const [row] = await select<{ n: string }>(sequelize, `SELECT count(*) AS n FROM (${sql}) x`, bind);
  return Number(row.n);
}

/** The demo products with their categories, primary first. */
function demoState(sequelize: Sequelize): Promise<Row[]> {
  return select(
    sequelize,
    `SELECT p.sku, p.name, p.price_cents, p.stock_on_hand, p.low_stock_threshold, p.category,
            coalesce(array_agg(c.slug ORDER BY pc.position) FILTER (WHERE c.id IS NOT NULL), '{}') AS slugs
     FROM "Products" p
     LEFT JOIN "Product_Categories" pc ON pc.product_id = p.id
     LEFT JOIN "Categories" c ON c.id = pc.category_id
     WHERE p.sku = ANY($1::text[])
     GROUP BY p.id ORDER BY p.sku`,
    [DEMO_SKUS],
  );
}

const expectedDemoState = () =>
  DEMO.map((p) => ({
    sku: p.sku,
    name: p.name,
    price_cents: p.priceCents,
    stock_on_hand: p.stockOnHand,
    low_stock_threshold: p.lowStockThreshold,
    category: p.category,
    slugs: [p.category.trim().toLowerCase()],
  })).sort((a, b) => (a.sku < b.sku ? -1 : 1));

describe('demo catalog seeder', () => {
  let db: TestDatabase;
  let sequelize: Sequelize;

  beforeEach(async () => {
    db = await createTestDatabase();
    sequelize = new Sequelize(db.url, { dialect: 'postgres', logging: false });
  });

  afterEach(async () => {
    await sequelize.close();
    await db.drop();
  });

  it('when the seeder runs twice, then there are 19 demo products in 5 categories, each linked once, with the legacy column as given', async () => {
    await seeder.up(sequelize.getQueryInterface());
    const once = {
      products: await count(sequelize, 'SELECT 1 FROM "Products"'),
      categories: await select(sequelize, 'SELECT id, name, slug FROM "Categories" ORDER BY id'),
      links: await count(sequelize, 'SELECT 1 FROM "Product_Categories"'),
      state: await demoState(sequelize),
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
    expect(await count(sequelize, 'SELECT 1 FROM "Products"')).toBe(19);
    expect(await select(sequelize, 'SELECT id, name, slug FROM "Categories" ORDER BY id')).toEqual(once.categories);
    expect(await count(sequelize, 'SELECT 1 FROM "Product_Categories"')).toBe(19);
    expect(await demoState(sequelize)).toEqual(once.state);
  });

  it('when the demo data is seeded, then at least one product is at or below its low-stock threshold', async () => {
    await seeder.up(sequelize.getQueryInterface());
    const low = await select(sequelize, `SELECT sku FROM "Products" WHERE stock_on_hand - stock_reserved <= low_stock_threshold ORDER BY sku`);
    expect(low.length).toBeGreaterThanOrEqual(1);
  });

  it('when a demo SKU already exists unlinked and categories with the demo names or slugs exist, then the seeder keeps the product, reuses the category by name and picks a free slug', async () => {
    // Inserted after the backfill ran, by something that only knows the legacy column.
    await sequelize.query(
      `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, category) VALUES ('COF-ESP-250', 'Our own espresso', 999, 'EUR', 7, 'coffee')`,
    );
    await sequelize.query(`INSERT INTO "Categories" (name, slug) VALUES ('COFFEE', 'kaffee'), ('Teas and more', 'tea')`);

    await seeder.up(sequelize.getQueryInterface());
    await seeder.up(sequelize.getQueryInterface());

    const [own] = await select(sequelize, `SELECT name, price_cents, stock_on_hand, category FROM "Products" WHERE sku = 'COF-ESP-250'`);
    expect(own).toEqual({ name: 'Our own espresso', price_cents: 999, stock_on_hand: 7, category: 'coffee' });
    const cats = await select(sequelize, `SELECT name, slug FROM "Categories" ORDER BY name`);
    expect(cats.map((c) => c.name)).toEqual(['Brewing', 'COFFEE', 'Mugs', 'Snacks', 'Tea', 'Teas and more']);
    const tea = cats.find((c) => c.name === 'Tea')!;
    expect(tea.slug).toMatch(/^tea-[0-9a-f]{8}$/);
    const state = await demoState(sequelize);
    expect(state.filter((s) => String(s.sku).startsWith('COF-')).map((s) => s.slugs)).toEqual([['kaffee'], ['kaffee'], ['kaffee'], ['kaffee']]);
    expect(state.filter((s) => String(s.sku).startsWith('TEA-')).map((s) => s.slugs)).toEqual(Array(4).fill([tea.slug]));
    expect(await count(sequelize, 'SELECT 1 FROM "Product_Categories"')).toBe(19);
  });

  it('when a demo product\'s categories were changed afterwards, then seeding again does not add its legacy link back', async () => {
    await seeder.up(sequelize.getQueryInterface());
    await sequelize.query(
      `DELETE FROM "Product_Categories" WHERE product_id = (SELECT id FROM "Products" WHERE sku = 'MUG-CER-30');
       UPDATE "Products" SET category = NULL WHERE sku = 'MUG-CER-30'`,
    );
    await seeder.up(sequelize.getQueryInterface());
    const [mug] = await demoState(sequelize).then((rows) => rows.filter((r) => r.sku === 'MUG-CER-30'));
    expect(mug).toMatchObject({ category: null, slugs: [] });
  });

  it('when the seeder is undone, then the demo products and their categories are gone, except products some order refers to', async () => {
    await seeder.up(sequelize.getQueryInterface());
    await sequelize.query(
      `INSERT INTO "Orders" (id, customer_id, total_cents, currency) VALUES ('00000000-0000-4000-8000-000000000001', 'c1', 1290, 'EUR');
       INSERT INTO "Order_Items" (order_id, product_id, sku, name, quantity, unit_price_cents)
       SELECT '00000000-0000-4000-8000-000000000001', id, sku, name, 1, price_cents FROM "Products" WHERE sku = 'MUG-CER-30'`,
    );
    await seeder.down(sequelize.getQueryInterface());
    expect(await select(sequelize, 'SELECT sku FROM "Products"')).toEqual([{ sku: 'MUG-CER-30' }]);
    expect(await select(sequelize, 'SELECT name FROM "Categories"')).toEqual([{ name: 'Mugs' }]);
    expect(await count(sequelize, 'SELECT 1 FROM "Product_Categories"')).toBe(1);
  });
});

describe('demo catalog through sequelize-cli', () => {
  let db: TestDatabase;
  let sequelize: Sequelize;

  beforeAll(async () => {
    db = await createTestDatabase();
    sequelize = new Sequelize(db.url, { dialect: 'postgres', logging: false });
  });

  afterAll(async () => {
    await sequelize.close();
    await db.drop();
  });

  const cli = (...args: string[]) =>
    run('npx', ['sequelize-cli', ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: db.url }, timeout: 60_000 });

  it('when npx sequelize-cli db:seed:all runs twice, then neither run fails and the second adds nothing', async () => {
    await cli('db:seed:all');
    const first = {
      products: await count(sequelize, 'SELECT 1 FROM "Products"'),
      categories: await count(sequelize, 'SELECT 1 FROM "Categories"'),
      links: await count(sequelize, 'SELECT 1 FROM "Product_Categories"'),
    };
    await cli('db:seed:all');
    expect(first.products).toBeGreaterThanOrEqual(19);
    expect(await count(sequelize, 'SELECT 1 FROM "Products"')).toBe(first.products);
    expect(await count(sequelize, 'SELECT 1 FROM "Categories"')).toBe(first.categories);
    expect(await count(sequelize, 'SELECT 1 FROM "Product_Categories"')).toBe(first.links);
    expect(await demoState(sequelize)).toEqual(expectedDemoState());
  });

  it('when db:seed:undo:all and db:seed:all run, then the demo catalog is back exactly once', async () => {
    await cli('db:seed:undo:all');
    expect(await count(sequelize, 'SELECT 1 FROM "Products" WHERE sku = ANY($1::text[])', [DEMO_SKUS])).toBe(0);
    await cli('db:seed:all');
    expect(await demoState(sequelize)).toEqual(expectedDemoState());
  });
});
