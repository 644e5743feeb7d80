import { QueryTypes } from 'sequelize';
import { createProduct, startTestApp, type TestApp } from '../helpers/test-app';

/** Statements this connection has prepared whose text contains `marker`. */
async function preparedOnThisConnection(t: TestApp, marker: string): Promise<number> {
  return t.ctx.sequelize.transaction(async (transaction) => {
    // Same transaction, so the same pooled connection as the query before it.
    await t.ctx.sequelize.query(`SELECT $1::text AS marker /* ${marker} */`, { bind: [marker], transaction, type: QueryTypes.SELECT });
    const [row] = await t.ctx.sequelize.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE $1',
      { bind: [`%${marker}%`], transaction, type: QueryTypes.SELECT },
    );
    return row.n;
  });
}

describe('prepared statements', () => {
  describe('by default', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(async () => {
      await t.stop();
    });

    it('when the service runs a query with parameters, then PostgreSQL keeps it as a prepared statement on that connection', async () => {
      expect(await preparedOnThisConnection(t, `marker-${Date.now()}`)).toBe(1);
    });

    it("when pg-boss fetches jobs, then PostgreSQL plans each fetch afresh, so a plan made while the queue was empty never sticks", async () => {
      // A fetch plan cached while a queue was empty read every row of the queue for each job it
      // took once a backlog had built (README, Performance); the service's own statements keep theirs.
      const db = t.ctx.queue.boss.getDb();
      const queueConnections = await Promise.all(Array.from({ length: 4 }, () => db.executeSql('SHOW plan_cache_mode', [])));
      expect(queueConnections.map((r) => r.rows[0].plan_cache_mode)).toEqual(Array(4).fill('force_custom_plan'));
      const [own] = await t.ctx.sequelize.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode', { type: QueryTypes.SELECT });
      expect(own.plan_cache_mode).toBe('auto');
    });

    it('when a migration adds a column to "Orders" while the service runs, then orders are still created, read and listed', async () => {
      const product = await createProduct({ stock: 10 });
      const order = async () => {
        const created = await t.http.post('/orders/create').send({ customerId: 'cust_prepared', items: [{ sku: product.sku, quantity: 1 }] });
        expect(created.status).toBe(202);
        const read = await t.http.get(`/orders/${created.body.order.id}`);
        expect(read.status).toBe(200);
        const list = await t.http.get('/orders?customerId=cust_prepared');
        expect(list.status).toBe(200);
        expect(list.body.orders.map((o: { id: string }) => o.id)).toContain(created.body.order.id);
      };
      // Several rounds, so most pooled connections have the statements prepared before the change.
      await Promise.all(Array.from({ length: 8 }, order));
      await t.query('ALTER TABLE "Orders" ADD COLUMN gift_note text');
      try {
        await Promise.all(Array.from({ length: 8 }, order));
      } finally {
        await t.query('ALTER TABLE "Orders" DROP COLUMN gift_note');
      }
    });
  });

  describe('when a table a prepared statement reads changes shape', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
      await t.query('CREATE TABLE prepared_probe (id int PRIMARY KEY, a int)');
      await t.query('INSERT INTO prepared_probe VALUES (1, 1)');
    });
    afterAll(async () => {
      await t.stop();
    });

    it('then at most the connection that had prepared it fails once, is dropped, and every later run works', async () => {
      const probe = () => t.ctx.sequelize.query('SELECT * FROM prepared_probe WHERE id = $1', { bind: [1], type: QueryTypes.SELECT });
      await probe();
      await t.query('ALTER TABLE prepared_probe ADD COLUMN b int');
      const outcomes: string[] = [];
      for (let i = 0; i < 10; i += 1) {
        outcomes.push(await probe().then(() => 'ok', (error: { parent?: { code?: string } }) => error.parent?.code ?? 'error'));
      }
      expect(outcomes.filter((o) => o !== 'ok').length).toBeLessThanOrEqual(1);
      expect(outcomes.slice(1)).toEqual(Array(9).fill('ok'));
    });
  });

  describe('when DB_PREPARED_STATEMENTS=false (for a PgBouncer that cannot route them)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ env: { DB_PREPARED_STATEMENTS: 'false' } });
    });
    afterAll(async () => {
      await t.stop();
    });

    it('then queries run unnamed and nothing is prepared', async () => {
      expect(await preparedOnThisConnection(t, `marker-${Date.now()}`)).toBe(0);
    });
  });
});
