import { randomUUID } from 'node:crypto';
import { QueueSendError } from '../../src/queue/job-queue';
import { QUEUES, type QueueName } from '../../src/queue/queues';
import { startTestApp, type TestApp } from '../helpers/test-app';

describe('foundation: job queue', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No workers: jobs stay queued where the test can see them.
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.stop();
  });

  async function jobsFor(orderId: string): Promise<Array<{ id: string; name: string; state: string }>> {
    const jobs = await Promise.all(
      Object.values(QUEUES).map((queue) => t.ctx.queue.inspect.jobsWithData(queue, 'orderId', orderId)),
    );
    return jobs.flat().map((job) => ({ id: job.id, name: job.queue, state: job.state }));
  }

  it('when start-up created the queues, then every queue name in QUEUES exists in pg-boss', async () => {
    const queues = await t.ctx.queue.boss.getQueues();
    expect(queues.map((queue) => queue.name)).toEqual(expect.arrayContaining(Object.values(QUEUES)));
  });

  it('when a job is sent inside a transaction that commits, then the job exists, and not before the commit', async () => {
    const orderId = randomUUID();
    let id = '';
    await t.ctx.sequelize.transaction(async (transaction) => {
      id = await t.ctx.queue.send(QUEUES.ORDER_RESERVE, { orderId }, { transaction });
      expect(id).toEqual(expect.any(String));
      // pg-boss reads on its own connections: until the commit, the job is not there for it.
      expect(await t.ctx.queue.boss.getJobById(QUEUES.ORDER_RESERVE, id)).toBeNull();
    });
    expect(await t.ctx.queue.boss.getJobById(QUEUES.ORDER_RESERVE, id)).toEqual(expect.objectContaining({ id, state: 'created' }));
    expect(await jobsFor(orderId)).toEqual([{ id, name: QUEUES.ORDER_RESERVE, state: 'created' }]);
  });

  it('when a job is sent inside a transaction that rolls back, then no job exists', async () => {
    const orderId = randomUUID();
    let id = '';
    await expect(
      t.ctx.sequelize.transaction(async (transaction) => {
        id = await t.ctx.queue.send(QUEUES.ORDER_RESERVE, { orderId }, { transaction });
        throw new Error('abort the order');
      }),
    ).rejects.toThrow('abort the order');
    expect(id).toEqual(expect.any(String));
    expect(await jobsFor(orderId)).toEqual([]);
    expect(await t.ctx.queue.boss.getJobById(QUEUES.ORDER_RESERVE, id)).toBeNull();
  });

  it('when a savepoint inside the transaction fails and rolls back, then the job still commits with the transaction', async () => {
    const orderId = randomUUID();
    await t.ctx.sequelize.transaction(async (transaction) => {
      await t.ctx.queue.send(QUEUES.ORDER_CHARGE, { orderId }, { transaction });
      // A nested sequelize transaction is a savepoint: its failure must not take the job with it.
      await expect(
        t.ctx.sequelize.transaction({ transaction }, async (savepoint) => {
          await t.ctx.sequelize.query('SELECT 1 / 0', { transaction: savepoint });
        }),
      ).rejects.toThrow(/division by zero/);
    });
    expect((await jobsFor(orderId)).map((job) => job.name)).toEqual([QUEUES.ORDER_CHARGE]);
  });

  it('when a job is sent without a transaction, then it exists at once', async () => {
    const orderId = randomUUID();
    const id = await t.ctx.queue.send(QUEUES.ORDER_RESERVE, { orderId });
    expect(await jobsFor(orderId)).toEqual([{ id, name: QUEUES.ORDER_RESERVE, state: 'created' }]);
  });

  it('when a job is sent to a queue that does not exist, then send throws QueueSendError naming it', async () => {
    const missing = 'no-such-queue' as QueueName;
    const send = t.ctx.queue.send(missing, { orderId: randomUUID() } as never);
    await expect(send).rejects.toBeInstanceOf(QueueSendError);
    await expect(t.ctx.queue.send(missing, { orderId: randomUUID() } as never)).rejects.toThrow(/"no-such-queue"/);
  });

  it('when a send to a missing queue happens inside a transaction, then the error rolls the transaction back', async () => {
    const orderId = randomUUID();
    await expect(
      t.ctx.sequelize.transaction(async (transaction) => {
        await t.ctx.queue.send(QUEUES.ORDER_RESERVE, { orderId }, { transaction });
        await t.ctx.queue.send('no-such-queue' as QueueName, { orderId } as never, { transaction });
      }),
    ).rejects.toBeInstanceOf(QueueSendError);
    expect(await jobsFor(orderId)).toEqual([]);
  });

  it('when pg-boss is asked for its size, then ping answers', async () => {
    await expect(t.ctx.queue.ping()).resolves.toBeUndefined();
  });
});
