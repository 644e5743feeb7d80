import { startTestApp, type TestApp } from '../helpers/test-app';

describe('health and readiness', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when the process runs, then /health answers 200', async () => {
    const res = await t.http.get('/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });

  it('when the database and the queue answer, then /ready answers 200 with both checks ok', async () => {
    const res = await t.http.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body.checks).toEqual({ database: 'ok', queue: 'ok' });
  });
});
