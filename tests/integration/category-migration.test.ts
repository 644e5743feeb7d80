import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { QueryTypes, Sequelize } from 'sequelize';
import { createMigrator } from '../../src/db/migrate';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../helpers/test-db';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const CREATE = '20261121110000-create-categories.js';
const BACKFILL = '20261121110100-backfill-product-categories.js';
const FK = '20261121110200-product-categories-product-fk.js';

type Row = Record<string, unknown>;

/** Legacy products as a shop would have them: case and whitespace variants, blanks, NULL, clashing slugs. */
const LEGACY: Array<[sku: string, category: string | null]> = [
  ['LEG-01', 'Coffee'],
  ['LEG-02', ' coffee'],
  ['LEG-03', 'COFFEE  '],
  ['LEG-04', 'Coffee'],
  ['LEG-05', 'tea'],
  ['LEG-06', 'TEA'],
  ['LEG-07', null],
  ['LEG-08', '   '],
  ['LEG-09', ''],
  ['LEG-10', 'Coffee & Tea'],
  ['LEG-11', 'coffee tea'],
  ['LEG-12', 'Coffee & Tea'],
  ['LEG-13', '\tBrewing Gear '],
  ['LEG-14', 'brewing gear'],
];

const md8 = (text: string) => createHash('md5').update(text).digest('hex').slice(0, 8);

const EXPECTED_CATEGORIES = [
  { name: 'Brewing Gear', slug: 'brewing-gear' },
  { name: 'Coffee', slug: 'coffee' },
  // Two products beat one: "Coffee & Tea" keeps the plain slug, "coffee tea" gets a suffix.
  { name: 'Coffee & Tea', slug: 'coffee-tea' },
  { name: 'coffee tea', slug: `coffee-tea-${md8('coffee tea')}` },
  // A tie between "tea" and "TEA": lower case wins over all caps.
  { name: 'tea', slug: 'tea' },
].sort((a, b) => a.slug.localeCompare(b.slug));

const EXPECTED_LINKS = [
  ['LEG-01', 'coffee'],
  ['LEG-02', 'coffee'],
  ['LEG-03', 'coffee'],
  ['LEG-04', 'coffee'],
  ['LEG-05', 'tea'],
  ['LEG-06', 'tea'],
  ['LEG-10', 'coffee-tea'],
  ['LEG-11', `coffee-tea-${md8('coffee tea')}`],
  ['LEG-12', 'coffee-tea'],
  ['LEG-13', 'brewing-gear'],
  ['LEG-14', 'brewing-gear'],
].map(([sku, slug]) => ({ sku, slug, position: 0 }));

async function migrationNames(sequelize: Sequelize): Promise<string[]> {
  const migrator = createMigrator(sequelize);
  return [...(await migrator.executed()), ...(await migrator.pending())].map((m) => m.name);
}

/** The name of the migration just before the category migration (whatever other issues add before it). */
async function beforeCategories(sequelize: Sequelize): Promise<string> {
  const names = await migrationNames(sequelize);
  const index = names.indexOf(CREATE);
  expect(index).toBeGreaterThan(0);
  return names[index - 1];
}

function select<T extends object = Row>(sequelize: Sequelize, sql: string, bind: unknown[] = []): Promise<T[]> {
  return sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT });
}

/** Every column of every row as text, plus each row's version (xmin): any UPDATE of a row would change it. */
function productsSnapshot(sequelize: Sequelize): Promise<Row[]> {
  return select(sequelize, `SELECT xmin::text AS row_version, p::text AS row FROM "Products" p ORDER BY id`);
}

/** The table's storage file: a rewrite (ALTER TABLE … TYPE, VACUUM FULL, …) gives it a new one. */
async function productsStorage(sequelize: Sequelize): Promise<string> {
  const [row] = await select<{ relfilenode: string }>(sequelize, `SELECT relfilenode::text FROM pg_class WHERE oid = '"Products"'::regclass`);
  return row.relfilenode;
}

function categories(sequelize: Sequelize): Promise<Row[]> {
  return select(sequelize, `SELECT name, slug FROM "Categories" ORDER BY slug`);
}

function links(sequelize: Sequelize): Promise<Row[]> {
  return select(
    sequelize,
    `SELECT p.sku, c.slug, pc.position FROM "Product_Categories" pc
     JOIN "Products" p ON p.id = pc.product_id JOIN "Categories" c ON c.id = pc.category_id
     ORDER BY p.sku, pc.position`,
  );
}

async function productKeyState(sequelize: Sequelize): Promise<'missing' | 'valid' | 'not-valid'> {
  const rows = await select<{ convalidated: boolean }>(
    sequelize,
    `SELECT convalidated FROM pg_constraint WHERE conname = 'product_categories_product_id_fkey'`,
  );
  if (!rows.length) return 'missing';
  return rows[0].convalidated ? 'valid' : 'not-valid';
}

/** Fails fast, with a message, when a migration waits on a lock instead of finishing. */
async function within<T>(ms: number, work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (waiting on a lock?)`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function tableExists(sequelize: Sequelize, name: string): Promise<boolean> {
  const [row] = await select<{ exists: boolean }>(sequelize, 'SELECT to_regclass($1) IS NOT NULL AS exists', [`"${name}"`]);
  return row.exists;
}

/** What a reader that only knows the legacy column asks. */
function legacyQuery(sequelize: Sequelize, category: string): Promise<Row[]> {
  return select(sequelize, `SELECT id, sku, name, category FROM "Products" WHERE category = $1 ORDER BY id`, [category]);
}

async function insertLegacyProducts(sequelize: Sequelize, rows: Array<[string, string | null]>): Promise<void> {
  for (const [sku, category] of rows) {
    await sequelize.query(
      `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, category) VALUES ($1, $2, 990, 'EUR', 10, $3)`,
      { bind: [sku, `Legacy product ${sku}`, category] },
    );
  }
}

describe('category migrations on a database with legacy products', () => {
  const legacyValues = ['Coffee', ' coffee', 'COFFEE  ', 'tea', 'Coffee & Tea'];
  const opened: Array<{ db: TestDatabase; sequelize: Sequelize }> = [];

  afterAll(async () => {
    for (const { db, sequelize } of opened) {
      await sequelize.close();
      await db.drop();
    }
  });

  /**
   * Each test's own database: migrated up to just before the category migration and holding the
   * legacy products (what they look like then is `before`); with `categoriesMigrated`, the
   * category migrations have run too.
   */
  async function legacyDatabase(options: { categoriesMigrated?: boolean } = {}) {
    const db = await createEmptyDatabase();
    const sequelize = new Sequelize(db.url, { dialect: 'postgres', logging: false });
    opened.push({ db, sequelize });
    await createMigrator(sequelize).up({ to: await beforeCategories(sequelize) });
    await insertLegacyProducts(sequelize, LEGACY);
    const legacy: Record<string, Row[]> = {};
    for (const value of legacyValues) legacy[value] = await legacyQuery(sequelize, value);
    const before = { products: await productsSnapshot(sequelize), storage: await productsStorage(sequelize), legacy };
    if (options.categoriesMigrated) await createMigrator(sequelize).up({ to: FK });
    return { sequelize, before };
  }

  it('when the database is migrated up to just before the category migration, then the category tables do not exist yet', async () => {
    const { sequelize, before } = await legacyDatabase();
    expect(await tableExists(sequelize, 'Categories')).toBe(false);
    expect(await tableExists(sequelize, 'Product_Categories')).toBe(false);
    expect(before.products).toHaveLength(LEGACY.length);
  });

  it('when the category migrations run, then each legacy value (ignoring case and surrounding spaces) becomes one category and every product with one is linked to it as primary', async () => {
    const { sequelize } = await legacyDatabase();
    const applied = await createMigrator(sequelize).up({ to: FK });
    expect(applied.map((m) => m.name)).toEqual([CREATE, BACKFILL, FK]);

    expect(await categories(sequelize)).toEqual(EXPECTED_CATEGORIES);
    expect(await links(sequelize)).toEqual(EXPECTED_LINKS);
    // NULL, '' and blank values get no category.
    const unlinked = await select(sequelize, `SELECT sku FROM "Products" p WHERE NOT EXISTS (SELECT 1 FROM "Product_Categories" pc WHERE pc.product_id = p.id) ORDER BY sku`);
    expect(unlinked).toEqual([{ sku: 'LEG-07' }, { sku: 'LEG-08' }, { sku: 'LEG-09' }]);
  });

  it('when the category migrations ran, then "Products" is unchanged: same values, no row rewritten, no table rewrite', async () => {
    const { sequelize, before } = await legacyDatabase({ categoriesMigrated: true });
    expect(await productsSnapshot(sequelize)).toEqual(before.products);
    expect(await productsStorage(sequelize)).toBe(before.storage);
    const [column] = await select(
      sequelize,
      `SELECT data_type, character_maximum_length, is_nullable FROM information_schema.columns WHERE table_name = 'Products' AND column_name = 'category'`,
    );
    expect(column).toEqual({ data_type: 'character varying', character_maximum_length: 100, is_nullable: 'YES' });
  });

  it('when a legacy reader queries "Products" by category, then it gets the same rows before and after the migration', async () => {
    const { sequelize, before } = await legacyDatabase({ categoriesMigrated: true });
    for (const value of legacyValues) {
      expect(await legacyQuery(sequelize, value)).toEqual(before.legacy[value]);
    }
    expect(before.legacy.Coffee.map((r) => r.sku)).toEqual(['LEG-01', 'LEG-04']);
  });

  it('when the backfill runs a second time, then it adds nothing', async () => {
    const { sequelize } = await legacyDatabase({ categoriesMigrated: true });
    const backfill = require(path.join(ROOT, 'migrations', BACKFILL)) as { up(qi: unknown): Promise<void> };
    await backfill.up(sequelize.getQueryInterface());
    expect(await categories(sequelize)).toEqual(EXPECTED_CATEGORIES);
    expect(await links(sequelize)).toEqual(EXPECTED_LINKS);
  });

  it('when the category migrations are undone, then the new tables are gone and "Products" is intact', async () => {
    const { sequelize, before } = await legacyDatabase({ categoriesMigrated: true });
    const reverted = await createMigrator(sequelize).down({ to: CREATE });
    expect(reverted.map((m) => m.name)).toEqual([FK, BACKFILL, CREATE]);
    expect(await tableExists(sequelize, 'Categories')).toBe(false);
    expect(await tableExists(sequelize, 'Product_Categories')).toBe(false);
    expect(await productsSnapshot(sequelize)).toEqual(before.products);
    expect(await productsStorage(sequelize)).toBe(before.storage);
    for (const value of legacyValues) expect(await legacyQuery(sequelize, value)).toEqual(before.legacy[value]);
  });

  it('when the category migrations run again after the undo, then categories and links are the same as the first time', async () => {
    const { sequelize, before } = await legacyDatabase({ categoriesMigrated: true });
    await createMigrator(sequelize).down({ to: CREATE });
    await createMigrator(sequelize).up({ to: FK });
    expect(await productKeyState(sequelize)).toBe('valid');
    expect(await categories(sequelize)).toEqual(EXPECTED_CATEGORIES);
    expect(await links(sequelize)).toEqual(EXPECTED_LINKS);
    expect(await productsSnapshot(sequelize)).toEqual(before.products);
  });

  it('when only the backfill and the key after it are undone, then the tables are empty and "Products" is intact; running them again refills them', async () => {
    const { sequelize, before } = await legacyDatabase({ categoriesMigrated: true });
    const reverted = await createMigrator(sequelize).down({ to: BACKFILL });
    expect(reverted.map((m) => m.name)).toEqual([FK, BACKFILL]);
    expect(await productKeyState(sequelize)).toBe('missing');
    expect(await categories(sequelize)).toEqual([]);
    expect(await links(sequelize)).toEqual([]);
    expect(await productsSnapshot(sequelize)).toEqual(before.products);
    await createMigrator(sequelize).up({ to: FK });
    expect(await productKeyState(sequelize)).toBe('valid');
    expect(await categories(sequelize)).toEqual(EXPECTED_CATEGORIES);
    expect(await links(sequelize)).toEqual(EXPECTED_LINKS);
  });

  it('when the migrations are done, then links have a validated foreign key to "Products" that cascades on delete', async () => {
    const { sequelize } = await legacyDatabase({ categoriesMigrated: true });
    expect(await productKeyState(sequelize)).toBe('valid');
    await sequelize.query(`DELETE FROM "Products" WHERE sku = 'LEG-14'`);
    expect((await links(sequelize)).map((l) => l.sku)).not.toContain('LEG-14');
    await expect(
      sequelize.query(`INSERT INTO "Product_Categories" (product_id, category_id) SELECT 999999, id FROM "Categories" LIMIT 1`),
    ).rejects.toThrow(/foreign key/);
  });
});

describe('category migrations while orders are in flight', () => {
  let db: TestDatabase;
  let sequelize: Sequelize;
  let other: Sequelize;

  beforeAll(async () => {
    db = await createEmptyDatabase();
    sequelize = new Sequelize(db.url, { dialect: 'postgres', logging: false });
    other = new Sequelize(db.url, { dialect: 'postgres', logging: false });
    await createMigrator(sequelize).up({ to: await beforeCategories(sequelize) });
    await insertLegacyProducts(sequelize, [['BUSY-1', 'Coffee'], ['BUSY-2', 'Tea'], ['BUSY-3', 'Mugs']]);
  });

  afterAll(async () => {
    await other.close();
    await sequelize.close();
    await db.drop();
  });

  it('when an order transaction holds product rows FOR UPDATE and has updated them (as stock reservation does), then the expand and backfill migrations still complete and link those products', async () => {
    const order = await other.transaction();
    try {
      await other.query(`SELECT id FROM "Products" WHERE sku IN ('BUSY-1', 'BUSY-2') ORDER BY id FOR UPDATE`, { transaction: order });
      await other.query(`UPDATE "Products" SET stock_reserved = stock_reserved + 2 WHERE sku IN ('BUSY-1', 'BUSY-2')`, { transaction: order });
      await within(10_000, createMigrator(sequelize).up({ to: BACKFILL }), 'expand + backfill');
      expect(await links(sequelize)).toEqual([
        { sku: 'BUSY-1', slug: 'coffee', position: 0 },
        { sku: 'BUSY-2', slug: 'tea', position: 0 },
        { sku: 'BUSY-3', slug: 'mugs', position: 0 },
      ]);
    } finally {
      await order.commit();
    }
    const rows = await select(sequelize, `SELECT stock_reserved FROM "Products" WHERE sku IN ('BUSY-1', 'BUSY-2')`);
    expect(rows).toEqual([{ stock_reserved: 2 }, { stock_reserved: 2 }]);
  });

  it('when a long transaction has written to "Products", then the foreign-key step gives up after its short lock timeouts instead of queueing, and leaves no key behind', async () => {
    const blocker = await other.transaction();
    try {
      await other.query(`UPDATE "Products" SET stock_reserved = 1 WHERE sku = 'BUSY-3'`, { transaction: blocker });
      const started = Date.now();
      await expect(createMigrator(sequelize).up({ to: FK })).rejects.toThrow(/lock timeout/i);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await productKeyState(sequelize)).toBe('missing');
    } finally {
      await blocker.commit();
    }
  });

  it('when a product was deleted after the backfill, then the foreign-key step drops its dangling link and validates the key', async () => {
    await sequelize.query(`DELETE FROM "Products" WHERE sku = 'BUSY-3'`);
    const applied = await createMigrator(sequelize).up({ to: FK });
    expect(applied.map((m) => m.name)).toEqual([FK]);
    expect(await productKeyState(sequelize)).toBe('valid');
    expect((await links(sequelize)).map((l) => l.sku)).toEqual(['BUSY-1', 'BUSY-2']);
  });
});

describe('category migrations through sequelize-cli', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.drop();
  });

  const cli = (...args: string[]) =>
    run('npx', ['sequelize-cli', ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: db.url }, timeout: 60_000 });

  function statusLines(stdout: string): Array<[string, string]> {
    return stdout
      .split('\n')
      .map((line) => line.trim().match(/^(up|down)\s+(\S+\.js)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [m[1], m[2]]);
  }

  it('when db:migrate has run, then db:migrate:status shows every migration file, the category ones included, as up', async () => {
    // The cloned database already has the migrations that existed when the run began; this applies any added since.
    await cli('db:migrate');
    const { stdout } = await cli('db:migrate:status');
    const lines = statusLines(stdout);
    const files = fs.readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.endsWith('.js')).sort();
    expect(lines.map(([, name]) => name).sort()).toEqual(files);
    expect(lines.filter(([state]) => state !== 'up')).toEqual([]);
    expect(lines.map(([, name]) => name)).toEqual(expect.arrayContaining([CREATE, BACKFILL]));
  });

  it('when sequelize-cli undoes the category migrations and migrates again, then status shows them down and then up, and the tables are back', async () => {
    const names = statusLines((await cli('db:migrate:status')).stdout).map(([, name]) => name);
    const after = names.slice(names.indexOf(CREATE));
    await cli('db:migrate:undo:all', '--to', CREATE);
    const down = statusLines((await cli('db:migrate:status')).stdout);
    expect(down.filter(([state]) => state === 'down').map(([, name]) => name)).toEqual(after);

    await cli('db:migrate');
    const up = statusLines((await cli('db:migrate:status')).stdout);
    expect(up.filter(([state]) => state !== 'up')).toEqual([]);
    const sequelize = new Sequelize(db.url, { dialect: 'postgres', logging: false });
    try {
      expect(await tableExists(sequelize, 'Categories')).toBe(true);
      expect(await tableExists(sequelize, 'Product_Categories')).toBe(true);
    } finally {
      await sequelize.close();
    }
  });
});
