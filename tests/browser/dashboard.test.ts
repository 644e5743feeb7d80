import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { runSeeders } from '../../src/db/migrate';
import { startWarehouseMock, type RunningWarehouseMock } from '../../src/mocks/warehouse';
import { createClient } from '../../src/modules/auth';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { eventually, startTestApp, type TestApp } from '../helpers/test-app';
import { closeChromium, launchChromium, watchedPage } from '../helpers/browser';

/**
 * The operations dashboard in headless Chromium (Debian's chromium, driven by playwright-core):
 * sign in through the page, follow an order created through the API to `completed`, open its
 * timeline, use the demo controls, and save screenshots under tests/artifacts/.
 * DASHBOARD_DOCS_SCREENSHOT=1 also writes docs/dashboard.png (README's picture).
 */

const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');
const DOCS_SCREENSHOT = process.env.DASHBOARD_DOCS_SCREENSHOT === '1';
const ADMIN = { clientId: 'dashboard-admin', secret: 'dashboard-admin-secret-0123456789' };
const SHOP = { clientId: 'dashboard-shop', secret: 'dashboard-shop-secret-0123456789' };

describe('operations dashboard in a real browser', () => {
  let t: TestApp;
  let warehouse: RunningWarehouseMock;
  let server: RunningServer;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0);
    t = await startTestApp({
      workers: true,
      warehouseUrl: warehouse.url,
      env: {
        // A charge that fails waits 2 s between attempts: long enough to watch an order sit in `reserved`.
        PAYMENT_MAX_ATTEMPTS: '6',
        PAYMENT_RETRY_DELAY_S: '2',
        INVENTORY_SYNC_CRON: '0 0 1 1 *',
      },
    });
    await runSeeders(t.ctx.sequelize); // the demo catalog, as `npm run db:seed` gives it
    await createClient({ clientId: ADMIN.clientId, role: 'admin', secret: ADMIN.secret });
    await createClient({ clientId: SHOP.clientId, role: 'customer', customerId: 'cust_001', secret: SHOP.secret });
    server = await listen(t.app, 0);

    browser = await launchChromium({ viewport: { width: 1440, height: 900 }, baseURL: server.url });
    page = await watchedPage(browser, pageErrors);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await closeChromium(browser);
    await server?.close();
    await t?.stop();
    await warehouse?.close();
  });

  async function createOrder(customerId: string, sku: string, quantity: number): Promise<string> {
    const res = await t.http.post('/orders/create').send({ customerId, items: [{ sku, quantity }] });
    expect(res.status).toBe(202);
    return res.body.order.id;
  }

  const row = (orderId: string) => page.locator(`#orders-table tbody tr[data-order-id="${orderId}"]`);

  it('when the page is opened without a token, then it loads without one and refuses wrong credentials and customer clients', async () => {
    const res = await page.goto('/dashboard');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.locator('#login-form').waitFor();
    expect(await page.locator('#app-view').isHidden()).toBe(true);

    await page.fill('#client-id', ADMIN.clientId);
    await page.fill('#client-secret', 'not-the-secret');
    await page.click('#login-submit');
    await page.locator('#login-error').filter({ hasText: 'Unknown client or wrong secret' }).waitFor();

    await page.fill('#client-id', SHOP.clientId);
    await page.fill('#client-secret', SHOP.secret);
    await page.click('#login-submit');
    await page.locator('#login-error').filter({ hasText: 'This client is not an admin client.' }).waitFor();
    expect(await page.locator('#app-view').isHidden()).toBe(true);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.fill('#client-id', ADMIN.clientId);
    // The browser logs the refused requests (401, 403) as console errors: expected here.
    pageErrors.length = 0;
  });

  it('when an admin signs in and an order is created through the API, then it reaches completed in the table and its timeline opens', async () => {
    await page.fill('#client-secret', ADMIN.secret);
    await page.click('#login-submit');
    await page.locator('#app-view').waitFor();
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual(['orderloop.dashboard.token']);

    const orderId = await createOrder('cust_001', 'COF-ESP-250', 2);
    await row(orderId).waitFor({ timeout: 15_000 });
    await page.locator(`#orders-table tbody tr[data-order-id="${orderId}"][data-status="completed"]`).waitFor({ timeout: 20_000 });
    expect(await row(orderId).locator('td').nth(4).innerText()).toBe('completed');
    expect(await row(orderId).locator('td').nth(5).innerText()).toBe('1');

    await row(orderId).click();
    await page.locator('#timeline').waitFor();
    await page.locator('#timeline-events li[data-event="ORDER_COMPLETED"]').waitFor();
    const events = await page.locator('#timeline-events li').evaluateAll((items) => items.map((li) => li.getAttribute('data-event')));
    expect(events).toEqual(['ORDER_CREATED', 'STOCK_RESERVED', 'PAYMENT_ATTEMPT', 'PAYMENT_SUCCEEDED', 'STOCK_COMMITTED', 'ORDER_COMPLETED']);
    expect(await page.locator('#timeline-id').innerText()).toBe(orderId);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-timeline.png') });

    await page.click('#timeline-close');
    await page.locator('#timeline').waitFor({ state: 'hidden' });
    // Live figures: the order is counted, the queues and stock panels are filled.
    await page.locator('#kpi-completed').filter({ hasText: /^[1-9]/ }).waitFor();
    await page.locator('#queues-table tbody tr[data-queue="order-charge-dead"]').waitFor();
    await page.locator('#stock-table tbody tr[data-sku="COF-ESP-250"]').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('when the demo controls decline payments, hold one up and cut the warehouse stock, then the page shows failed orders, a shortfall and low stock', async () => {
    // Payments: every charge declined.
    await page.fill('#pay-failure', '0');
    await page.locator('#pay-decline').fill('100');
    await page.click('#payments-form button[type="submit"]');
    await page.locator('#payments-message').filter({ hasText: 'declines 100%' }).waitFor();
    expect(t.payments.settings.declineRate).toBe(1);
    const declined = await createOrder('cust_002', 'TEA-GRN-100', 1);
    await page.click('#status-filter button[data-status="failed"]');
    await page.locator(`#orders-table tbody tr[data-order-id="${declined}"][data-status="failed"]`).waitFor({ timeout: 20_000 });
    expect(await row(declined).innerText()).toContain('PAYMENT_DECLINED');
    await page.click('#status-filter button[data-status=""]');

    // Payments down: the next order waits in `reserved` (its charge job retries every 2 s).
    await page.locator('#pay-decline').fill('0');
    await page.check('#pay-down');
    await page.click('#payments-form button[type="submit"]');
    await page.locator('#payments-message').filter({ hasText: 'provider DOWN' }).waitFor();
    const held = await createOrder('cust_001', 'COF-DEC-250', 5);
    await page.locator(`#orders-table tbody tr[data-order-id="${held}"][data-status="reserved"]`).waitFor({ timeout: 15_000 });

    // The warehouse now reports 2 of that SKU while 5 are reserved: a sync records a shortfall.
    await page.selectOption('#wh-sku', 'COF-DEC-250');
    await page.fill('#wh-qty', '2');
    await page.click('#warehouse-form button[type="submit"]');
    await page.locator('#warehouse-message').filter({ hasText: 'now holds 2 of COF-DEC-250' }).waitFor();
    expect(warehouse.warehouse.stock.get('COF-DEC-250')?.quantity).toBe(2);
    await page.click('#sync-now');
    await page.locator('#syncs .shortfall', { hasText: 'COF-DEC-250 short 3' }).waitFor({ timeout: 15_000 });

    // The provider comes back: the held order completes and takes the last units out of stock.
    await page.uncheck('#pay-down');
    await page.click('#payments-form button[type="submit"]');
    await page.locator('#payments-message').filter({ hasText: /latency 0 ms\.$/ }).waitFor();
    await page.locator(`#orders-table tbody tr[data-order-id="${held}"][data-status="completed"]`).waitFor({ timeout: 20_000 });
    await page.locator('#stock-table tbody tr.out[data-sku="COF-DEC-250"]').waitFor({ timeout: 10_000 });

    // The failed job view: a charge job that ran out of attempts is listed with its order.
    // The failed / dead-letter list says what pg-boss holds (here: declines and retries, no job failed for good).
    const failed = await t.ctx.queue.inspect.failedJobs(1, ['order-charge-dead']);
    if (failed.length === 0) await page.locator('#failed-jobs li.none', { hasText: 'No failed or dead-lettered jobs.' }).waitFor();
    else expect(await page.locator('#failed-jobs li:not(.none)').count()).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });

  it('when the page is looked at on a laptop screen, then a screenshot is saved for people to judge', async () => {
    if (DOCS_SCREENSHOT) {
      // README's picture: an hour of traffic (orders created now, then spread over the last hour
      // in the database so the per-minute chart has something to draw), one of them open.
      const skus = ['COF-ESP-250', 'COF-FIL-500', 'COF-CAP-10', 'TEA-BLK-100', 'TEA-GRN-100'];
      t.payments.settings.declineRate = 0.12;
      const ids: string[] = [];
      for (let i = 0; i < 60; i += 1) ids.push(await createOrder(`cust_${String(1 + (i % 7)).padStart(3, '0')}`, skus[i % skus.length], 1 + (i % 3)));
      await eventually(async () => {
        const { inFlight } = (await t.http.get('/admin/overview').expect(200)).body.orders;
        return inFlight.pending + inFlight.reserved === 0;
      }, 60_000);
      t.payments.settings.declineRate = 0;
      await t.query(
        `UPDATE "Orders" SET created_at = created_at - make_interval(secs => 60 + floor(random() * 3300)), updated_at = updated_at - interval '1 minute'
         WHERE id = ANY($1::uuid[])`,
        [ids.slice(0, 48)],
      );
      const latest = await createOrder('cust_004', 'COF-FIL-500', 1);
      await page.locator(`#orders-table tbody tr[data-order-id="${latest}"][data-status="completed"]`).waitFor({ timeout: 20_000 });
    }
    await page.evaluate('window.scrollTo(0, 0)');
    await page.waitForTimeout(2500); // one more refresh of every panel
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png') });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-full.png'), fullPage: true });
    if (DOCS_SCREENSHOT) {
      fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'docs', 'dashboard.png') });
    }
    expect(fs.statSync(path.join(ARTIFACTS, 'dashboard.png')).size).toBeGreaterThan(10_000);
    expect(pageErrors).toEqual([]);
  });
});
