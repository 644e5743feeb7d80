import net from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import pinoHttp from 'pino-http';
import { ConnectionRefusedError } from 'sequelize';
import request from 'supertest';
import { buildApp } from '../../src/app';
import type { AppContext } from '../../src/context';
import { freeTestPort } from '../helpers/ports';
import { createSequelize } from '../../src/db/sequelize';
import { AppError } from '../../src/shared/errors';
import { errorMiddleware, notFoundMiddleware } from '../../src/http/error-middleware';
import { requestId } from '../../src/http/request-id';
import { JobQueue } from '../../src/queue/job-queue';
import { createLogger } from '../../src/shared/logger';
import { eventually, startTestApp, type TestApp } from '../helpers/test-app';
import { adminQuery } from '../helpers/pg';
import { adminUrl } from '../helpers/test-db';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A pino logger whose JSON lines the test can read. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info', base: { service: 'orderloop' } }, stream), lines };
}

/** Every error response has exactly this shape, whatever went wrong. */
function expectErrorBody(res: request.Response, code: string, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({
    error: expect.objectContaining({ code, message: expect.any(String), requestId: res.headers['x-request-id'] }),
  });
  expect(Object.keys(res.body.error).sort()).toEqual(expect.arrayContaining(['code', 'message', 'requestId']));
  expect(Object.keys(res.body.error).every((key) => ['code', 'message', 'details', 'requestId'].includes(key))).toBe(true);
  expect(res.headers['x-request-id']).toEqual(expect.any(String));
}

/** A TCP server that accepts connections and never says a word: a database that hangs. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('foundation: HTTP skeleton', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.stop();
  });

  describe('/health and /ready', () => {
    it('when the process runs, then /health answers 200 even with the database gone', async () => {
      const closedPort = await freeTestPort();
      const sequelize = createSequelize(`postgres://postgres@127.0.0.1:${closedPort}/nowhere`, { poolMax: 1, logger: t.ctx.logger });
      try {
        const res = await request(buildApp({ ...t.ctx, sequelize })).get('/health');
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ status: 'ok', role: 'all' });
      } finally {
        await sequelize.close();
      }
    });

    it('when the database refuses connections, then /ready answers 503 at once naming the database check', async () => {
      const closedPort = await freeTestPort();
      const sequelize = createSequelize(`postgres://postgres@127.0.0.1:${closedPort}/nowhere`, { poolMax: 1, logger: t.ctx.logger });
      try {
        const started = Date.now();
        const res = await request(buildApp({ ...t.ctx, sequelize })).get('/ready');
        expect(Date.now() - started).toBeLessThan(2_500);
        expectErrorBody(res, 'SERVICE_UNAVAILABLE', 503);
        expect(res.body.error.message).toBe('Not ready: database unavailable');
        expect(res.body.error.details).toEqual({ checks: { database: 'unavailable', queue: 'ok' } });
        expect(res.headers['retry-after']).toBe('5');
      } finally {
        await sequelize.close();
      }
    });

    it('when the database accepts connections but never answers, then /ready still answers 503 within the check timeout', async () => {
      const hole = await blackHole();
      const sequelize = createSequelize(`postgres://postgres@127.0.0.1:${hole.port}/nowhere`, { poolMax: 1, logger: t.ctx.logger });
      try {
        const started = Date.now();
        const res = await request(buildApp({ ...t.ctx, sequelize })).get('/ready').timeout(10_000);
        const elapsed = Date.now() - started;
        expectErrorBody(res, 'SERVICE_UNAVAILABLE', 503);
        expect(res.body.error.details.checks.database).toBe('unavailable');
        expect(elapsed).toBeLessThan(4_000);
      } finally {
        await hole.close();
        await sequelize.close().catch(() => undefined);
      }
    });

    it('when both the database and the queue are unreachable, then /ready names both', async () => {
      const closedPort = await freeTestPort();
      const url = `postgres://postgres@127.0.0.1:${closedPort}/nowhere`;
      const sequelize = createSequelize(url, { poolMax: 1, logger: t.ctx.logger });
      const queue = new JobQueue(t.config, sequelize, url, createLogger('silent'));
      await expect(queue.start()).rejects.toThrow();
      try {
        const started = Date.now();
        const res = await request(buildApp({ ...t.ctx, sequelize, queue })).get('/ready');
        expect(Date.now() - started).toBeLessThan(2_500);
        expectErrorBody(res, 'SERVICE_UNAVAILABLE', 503);
        expect(res.body.error.message).toBe('Not ready: database and queue unavailable');
        expect(res.body.error.details).toEqual({ checks: { database: 'unavailable', queue: 'unavailable' } });
      } finally {
        await queue.stop().catch(() => undefined);
        await sequelize.close();
      }
    });

    it('when the database drops every connection, then /ready is 200 again within seconds', async () => {
      expect((await t.http.get('/ready')).status).toBe(200);
      const killed = (await adminQuery(
        adminUrl(),
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [t.db.name],
      )) as unknown[];
      expect(killed.length).toBeGreaterThan(0);
      await eventually(async () => (await t.http.get('/ready')).status === 200, 10_000, 200);
    });
  });

  describe('errors', () => {
    it('when the body is malformed JSON, then 400 INVALID_JSON', async () => {
      const res = await t.http.post('/orders').set('Content-Type', 'application/json').send('{"customerId": "c1", "items": [');
      expectErrorBody(res, 'INVALID_JSON', 400);
      expect(res.body.error.message).not.toContain('Unexpected');
    });

    it('when the body is over 100 kB, then 413 PAYLOAD_TOO_LARGE', async () => {
      const big = JSON.stringify({ customerId: 'c1', items: [], padding: 'x'.repeat(101 * 1024) });
      const res = await t.http.post('/orders').set('Content-Type', 'application/json').send(big);
      expectErrorBody(res, 'PAYLOAD_TOO_LARGE', 413);
    });

    it('when the body declares an unsupported charset, then 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const res = await t.http.post('/orders').set('Content-Type', 'application/json; charset=klingon').send('{}');
      expectErrorBody(res, 'UNSUPPORTED_MEDIA_TYPE', 415);
    });

    it('when the route does not exist, then 404 NOT_FOUND', async () => {
      const res = await t.http.get('/no/such/route');
      expectErrorBody(res, 'NOT_FOUND', 404);
      const post = await t.http.post('/nothing-here').send({});
      expectErrorBody(post, 'NOT_FOUND', 404);
    });

    it('when the path exists under another method, then 405 METHOD_NOT_ALLOWED with an Allow header', async () => {
      const del = await t.http.delete('/health');
      expectErrorBody(del, 'METHOD_NOT_ALLOWED', 405);
      expect(del.headers.allow.split(', ')).toContain('GET');
      expect(del.headers.allow).not.toContain('DELETE');

      const put = await t.http.put('/ready').send({});
      expectErrorBody(put, 'METHOD_NOT_ALLOWED', 405);
      expect(put.headers.allow.split(', ')).toContain('GET');

      const get = await t.http.get('/orders/create');
      expectErrorBody(get, 'METHOD_NOT_ALLOWED', 405);
      expect(get.headers.allow).toBe('POST');
    });

    it('when GET is allowed, then Allow also lists HEAD, which Express answers for it', async () => {
      const del = await t.http.delete('/health');
      expect(del.headers.allow).toBe('GET, HEAD');
      expect((await t.http.head('/health')).status).toBe(200);
    });

    it('when a path parameter is broken percent-encoding, then 400 VALIDATION_FAILED, not 500', async () => {
      const res = await t.http.get('/orders/%E0%A4%A');
      expectErrorBody(res, 'VALIDATION_FAILED', 400);
    });

    it('when a labelled path parameter is invalid, then the detail names the parameter', async () => {
      const res = await t.http.get('/orders/not-a-uuid');
      expectErrorBody(res, 'VALIDATION_FAILED', 400);
      expect(res.body.error.details[0].path).toBe('id');
    });

    it('when a query fails inside a real route, then 500 INTERNAL without SQL, table names or stack in the body', async () => {
      await t.query('ALTER TABLE "Orders" RENAME TO "Orders_hidden"');
      try {
        const res = await t.http.get('/orders');
        expectErrorBody(res, 'INTERNAL', 500);
        const text = JSON.stringify(res.body);
        expect(text).not.toMatch(/Orders|SELECT|relation|at \/|\.ts:|\.js:|stack/i);
        expect(res.body.error.message).toBe('Something went wrong on our side');
      } finally {
        await t.query('ALTER TABLE "Orders_hidden" RENAME TO "Orders"');
      }
    });

    it('when the database stops accepting connections under a real route, then 503 SERVICE_UNAVAILABLE with Retry-After, and 200 once it is back', async () => {
      const admin = adminUrl();
      await adminQuery(admin, `ALTER DATABASE ${t.db.name} WITH ALLOW_CONNECTIONS false`);
      try {
        await adminQuery(admin, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [t.db.name]);
        const res = await t.http.get('/orders');
        expectErrorBody(res, 'SERVICE_UNAVAILABLE', 503);
        expect(res.headers['retry-after']).toBe('5');
        expect(JSON.stringify(res.body)).not.toContain(t.db.name);
      } finally {
        await adminQuery(admin, `ALTER DATABASE ${t.db.name} WITH ALLOW_CONNECTIONS true`);
      }
      await eventually(async () => (await t.http.get('/orders')).status === 200, 10_000, 200);
    });
  });

  describe('the error middleware on its own', () => {
    /** The same request-id, logging and error chain buildApp uses, with routes that fail on purpose. */
    function failingApp() {
      const { logger, lines } = capturingLogger();
      const app = express();
      app.use(pinoHttp({ logger, genReqId: requestId, customProps: (req) => ({ requestId: req.id }) }));
      app.get('/boom', () => {
        const error = new Error('duplicate key value violates unique constraint "secret_idx" in SELECT * FROM "Secrets"');
        (error as Error & { sql?: string }).sql = 'SELECT * FROM "Secrets"';
        throw error;
      });
      app.get('/async-boom', async () => {
        await Promise.resolve();
        throw new TypeError("Cannot read properties of undefined (reading 'password')");
      });
      app.get('/down', () => {
        throw new ConnectionRefusedError(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      });
      app.get('/typed', () => {
        throw new AppError('INSUFFICIENT_STOCK', 'Not enough stock', [{ path: 'items.0', message: 'only 2 left' }]);
      });
      app.get('/partial', (_req, res, next) => {
        res.status(200).type('text/plain').write('half a respon');
        next(new Error('failed while streaming'));
      });
      app.get('/shed', () => {
        throw new AppError('SERVICE_UNAVAILABLE', 'Orders are arriving faster than they can be processed', { backlogSeconds: 70 }, { 'Retry-After': '11' });
      });
      app.get('/thrown-string', () => {
        throw 'just a string';
      });
      app.use(notFoundMiddleware);
      app.use(errorMiddleware);
      return { app, lines };
    }

    it('when a route throws an unknown error, then 500 INTERNAL with no internals, and the log has the stack and the request id', async () => {
      const { app, lines } = failingApp();
      for (const path of ['/boom', '/async-boom', '/thrown-string']) {
        const res = await request(app).get(path).set('X-Request-Id', `req-${path.slice(1)}`);
        expectErrorBody(res, 'INTERNAL', 500);
        expect(res.body.error.requestId).toBe(`req-${path.slice(1)}`);
        expect(JSON.stringify(res.body)).not.toMatch(/Secrets|secret_idx|SELECT|password|just a string|stack|at /);
      }
      const logged = lines.find((line) => line.requestId === 'req-boom' && line.msg === 'request failed');
      expect(logged).toBeDefined();
      expect(JSON.stringify(logged)).toContain('at ');
      expect((logged!.err as { stack?: string }).stack).toContain('duplicate key value');
    });

    it('when a route fails after it started its response, then the connection is closed instead of left hanging', async () => {
      const { app, lines } = failingApp();
      const started = Date.now();
      const outcome = await request(app)
        .get('/partial')
        .timeout(5_000)
        .then(
          () => 'completed',
          (error: Error) => error.message,
        );
      expect(outcome).not.toMatch(/Timeout/);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(lines.some((line) => line.msg === 'request failed')).toBe(true);
    });

    it('when a route throws a connection error, then 503 SERVICE_UNAVAILABLE', async () => {
      const res = await request(failingApp().app).get('/down');
      expectErrorBody(res, 'SERVICE_UNAVAILABLE', 503);
      expect(res.headers['retry-after']).toBe('5');
    });

    it('when a route refuses with a 503 of its own (load shedding), then the log says why at warn level, with no stack', async () => {
      const { app, lines } = failingApp();
      const res = await request(app).get('/shed').set('X-Request-Id', 'req-shed');
      expectErrorBody(res, 'SERVICE_UNAVAILABLE', 503);
      expect(res.headers['retry-after']).toBe('11');
      const logged = lines.find((line) => line.requestId === 'req-shed' && line.code === 'SERVICE_UNAVAILABLE');
      expect(logged).toMatchObject({ level: 40, msg: 'Orders are arriving faster than they can be processed', details: { backlogSeconds: 70 } });
      expect(JSON.stringify(logged)).not.toMatch(/stack|at \//);
    });

    it('when a route throws an AppError, then its status, code, message and details pass through', async () => {
      const res = await request(failingApp().app).get('/typed');
      expectErrorBody(res, 'INSUFFICIENT_STOCK', 409);
      expect(res.body.error.message).toBe('Not enough stock');
      expect(res.body.error.details).toEqual([{ path: 'items.0', message: 'only 2 left' }]);
    });
  });

  describe('X-Request-Id', () => {
    it('when the caller sends a well-formed X-Request-Id, then it is echoed in the header and the error body', async () => {
      const res = await t.http.get('/nope').set('X-Request-Id', 'client-trace:42.a_b');
      expect(res.headers['x-request-id']).toBe('client-trace:42.a_b');
      expect(res.body.error.requestId).toBe('client-trace:42.a_b');
      const ok = await t.http.get('/health').set('X-Request-Id', 'health-check-1');
      expect(ok.headers['x-request-id']).toBe('health-check-1');
    });

    it('when the caller sends none, then a UUID is generated, echoed, and differs per request', async () => {
      const a = await t.http.get('/nope');
      const b = await t.http.get('/health');
      expect(a.headers['x-request-id']).toMatch(UUID);
      expect(a.body.error.requestId).toBe(a.headers['x-request-id']);
      expect(b.headers['x-request-id']).toMatch(UUID);
      expect(b.headers['x-request-id']).not.toBe(a.headers['x-request-id']);
    });

    it('when the caller sends a malformed or overlong X-Request-Id, then it is replaced by a generated one', async () => {
      for (const bad of ['has spaces', 'x'.repeat(129), 'new\u00e9line', '<script>']) {
        const res = await t.http.get('/nope').set('X-Request-Id', bad);
        expect(res.headers['x-request-id']).toMatch(UUID);
        expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
      }
    });

    it('when a request is handled, then every log line of that request carries its request id', async () => {
      const { logger, lines } = capturingLogger();
      const ctx: AppContext = { ...t.ctx, logger };
      const app = buildApp(ctx);
      // Both fail in the body parser, before any route or authentication.
      await request(app).post('/orders').set('X-Request-Id', 'log-trace-1').set('Content-Type', 'application/json').send('{');
      await request(app)
        .post('/orders')
        .set('X-Request-Id', 'log-trace-2')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ padding: 'x'.repeat(200 * 1024) }));
      for (const id of ['log-trace-1', 'log-trace-2']) {
        const mine = lines.filter((line) => JSON.stringify(line).includes(id));
        expect(mine.length).toBeGreaterThanOrEqual(2);
        for (const line of mine) expect(line.requestId).toBe(id);
      }
      // The completion line (pino-http) records the status.
      expect(lines.some((line) => line.requestId === 'log-trace-1' && (line.res as { statusCode?: number })?.statusCode === 400)).toBe(true);
      expect(lines.some((line) => line.requestId === 'log-trace-2' && (line.res as { statusCode?: number })?.statusCode === 413)).toBe(true);
    });
  });
});
