import type { BrowserContext } from 'playwright-core';
import { buildApp } from '../../src/app';
import { createClient } from '../../src/modules/auth';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { createProduct, startTestApp, type TestApp } from '../helpers/test-app';
import { closeChromium, launchChromium } from '../helpers/browser';

/**
 * The dashboard's demo controls exist only where the mocks run in the service's own process: when
 * /admin/mocks/* answers 404, the page hides the controls of that mock (and the whole card when
 * neither runs). Headless Chromium, as in dashboard.test.ts.
 */

const ADMIN = { clientId: 'controls-admin', secret: 'controls-admin-secret-0123456789' };

describe('dashboard demo controls', () => {
  let t: TestApp;
  let paymentsOnly: RunningServer;
  let noMocks: RunningServer;
  let browser: BrowserContext;

  beforeAll(async () => {
    // No warehouse URL: the test app runs its payment mock only.
    t = await startTestApp();
    await createClient({ clientId: ADMIN.clientId, role: 'admin', secret: ADMIN.secret });
    await createProduct({ stock: 5 });
    paymentsOnly = await listen(t.app, 0);
    noMocks = await listen(buildApp({ ...t.ctx, mocksInProcess: { payments: false, warehouse: false } }), 0);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await closeChromium(browser);
    await paymentsOnly?.close();
    await noMocks?.close();
    await t?.stop();
  });

  /** Signs in; resolves once the page's two probes of the demo controls have answered, with their statuses. */
  async function signIn(baseUrl: string) {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/dashboard`);
    await page.fill('#client-id', ADMIN.clientId);
    await page.fill('#client-secret', ADMIN.secret);
    const probes = ['/admin/mocks/payments/config', '/admin/mocks/warehouse'].map((p) => page.waitForResponse((res) => new URL(res.url()).pathname === p));
    await page.click('#login-submit');
    await page.locator('#app-view').waitFor();
    const statuses = await Promise.all(probes.map(async (r) => (await r).status()));
    return { page, statuses };
  }

  it('when only the payment mock runs in the process, then the payment controls show and the warehouse controls stay hidden', async () => {
    const { page, statuses } = await signIn(paymentsOnly.url);
    expect(statuses).toEqual([200, 404]);
    await page.locator('#payments-form').waitFor();
    await page.locator('#payments-url').filter({ hasText: t.paymentServer.url }).waitFor();
    expect(await page.locator('#demo-controls').isVisible()).toBe(true);
    expect(await page.locator('#warehouse-form').isHidden()).toBe(true);
    await page.close();
  });

  it('when no mock runs in the process, then the demo controls card stays hidden while the rest of the page works', async () => {
    const { page, statuses } = await signIn(noMocks.url);
    expect(statuses).toEqual([404, 404]);
    await page.locator('#stock-table tbody tr').first().waitFor();
    expect(await page.locator('#demo-controls').isHidden()).toBe(true);
    expect(await page.locator('#payments-form').isHidden()).toBe(true);
    expect(await page.locator('#warehouse-form').isHidden()).toBe(true);
    await page.close();
  });
});
