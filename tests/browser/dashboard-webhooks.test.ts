import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page, Request } from 'playwright-core';
import { startWebhookReceiver } from '../../src/mocks/webhook-receiver';
import { createClient } from '../../src/modules/auth';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { createProduct, startTestApp, type TestApp } from '../helpers/test-app';
import { closeChromium, launchChromium, watchedPage } from '../helpers/browser';

/**
 * The dashboard's live side in headless Chromium (as dashboard.test.ts): the orders list follows
 * the admin event stream (GET /events) instead of polling, and falls back to polling while the
 * stream is down; the Webhooks panel registers an endpoint (the webhook receiver mock), shows a
 * delivery the receiver refused with each attempt, and retries it once the receiver accepts.
 * Two attempts one second apart fail a delivery quickly.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');
const ADMIN = { clientId: 'webhooks-admin', secret: 'webhooks-admin-secret-0123456789' };

describe('dashboard: the live order feed and the Webhooks panel in a real browser', () => {
  let t: TestApp;
  let server: RunningServer;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  // This app runs no warehouse mock: the page's probe of its demo controls is answered 404, as it should be.
  const noWarehouseMock = (url: string) => url.endsWith('/admin/mocks/warehouse');

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    t = await startTestApp({
      workers: true,
      env: { WEBHOOK_MAX_ATTEMPTS: '2', WEBHOOK_RETRY_DELAY_S: '1', WEBHOOK_TIMEOUT_MS: '2000' },
    });
    await createClient({ clientId: ADMIN.clientId, role: 'admin', secret: ADMIN.secret });
    server = await listen(t.app, 0);
    browser = await launchChromium({ viewport: { width: 1440, height: 900 }, baseURL: server.url });
    page = await watchedPage(browser, pageErrors, noWarehouseMock);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await signIn(page);
  });

  afterAll(async () => {
    await closeChromium(browser);
    await server?.close();
    await t?.stop();
    await receiver?.close();
  });

  async function signIn(p: Page) {
    await p.goto('/dashboard');
    await p.fill('#client-id', ADMIN.clientId);
    await p.fill('#client-secret', ADMIN.secret);
    await p.click('#login-submit');
    await p.locator('#app-view').waitFor();
  }

  async function createOrder(customerId: string, sku: string): Promise<string> {
    const res = await t.http.post('/orders/create').send({ customerId, items: [{ sku, quantity: 1 }] });
    expect(res.status).toBe(202);
    return res.body.order.id;
  }

  const row = (p: Page, orderId: string, status?: string) =>
    p.locator(`#orders-table tbody tr[data-order-id="${orderId}"]${status ? `[data-status="${status}"]` : ''}`);

  /** Records the page's reads of the orders list (GET /orders?…). */
  function watchListReads(p: Page) {
    const reads: number[] = [];
    const onRequest = (req: Request) => {
      if (req.method() === 'GET' && new URL(req.url()).pathname === '/orders') reads.push(Date.now());
    };
    p.on('request', onRequest);
    return { reads, stop: () => p.off('request', onRequest) };
  }

  it('when an order is created through the API, then it appears in the orders list from the live event stream, which the page no longer polls', async () => {
    await page.locator('#live[data-feed="stream"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#orders-foot').innerText()).toBe('Newest 20 · live · click an order for its timeline');
    await page.waitForTimeout(1_000); // the reload the stream's opening asks for
    const list = watchListReads(page);
    // Longer than the old 2 s poll: with the stream open and no order event, the list is not read.
    await page.waitForTimeout(2_500);
    expect(list.reads).toEqual([]);

    const product = await createProduct({ stock: 10 });
    const createdAt = Date.now();
    const orderId = await createOrder('cust_live', product.sku);
    await row(page, orderId).waitFor({ timeout: 5_000 });
    // Read because an event arrived (no poll runs), each read after the order was created.
    expect(list.reads.length).toBeGreaterThan(0);
    expect(list.reads.every((at) => at >= createdAt)).toBe(true);
    // Each change of status is an event too: the row follows the order to completed.
    await row(page, orderId, 'completed').waitFor({ timeout: 20_000 });
    list.stop();
    expect(pageErrors).toEqual([]);
  });

  it('when the live stream cannot be opened, then the list is polled as before, and the stream is used again once it opens', async () => {
    const other = await browser.newPage();
    const stream = (url: URL) => url.pathname === '/events';
    await other.route(stream, (route) => route.abort());
    await signIn(other);
    await other.locator('#live[data-feed="polling"]').waitFor({ timeout: 10_000 });
    await other.locator('#orders-foot').filter({ hasText: 'refreshed every 2 s (live feed reconnecting)' }).waitFor();

    const product = await createProduct({ stock: 10 });
    const orderId = await createOrder('cust_fallback', product.sku);
    await row(other, orderId, 'completed').waitFor({ timeout: 20_000 });

    await other.unroute(stream);
    // The stream is tried again with a back-off (1, 2, 5, 10 s, ...).
    await other.locator('#live[data-feed="stream"]').waitFor({ timeout: 30_000 });
    await other.close();
  });

  it('when an endpoint is registered in the panel and the receiver refuses, then the failed delivery shows each attempt, and Retry delivers it once the receiver accepts', async () => {
    // A URL the API refuses: its own message is shown under the form.
    await page.fill('#webhook-url', 'ftp://shop.example/hooks');
    await page.click('#webhook-submit');
    await page.locator('#webhook-message.error').filter({ hasText: 'url must be an absolute http or https URL' }).waitFor();
    // The browser logs the refused request (400) as a console error: expected here.
    expect(pageErrors.filter((e) => !e.includes('400'))).toEqual([]);
    pageErrors.length = 0;

    await page.fill('#webhook-url', receiver.hookUrl);
    await page.uncheck('#webhook-events input[value="*"]');
    await page.check('#webhook-events input[value="order.completed"]');
    await page.fill('#webhook-description', 'the test shop');
    await page.click('#webhook-submit');
    const secret = await page.locator('#webhook-secret').filter({ hasText: /^whsec_/ }).innerText();
    expect(await page.locator('#webhook-message').innerText()).toBe(`Registered ${receiver.hookUrl}.`);
    const endpoint = page.locator('#webhooks-table tbody tr', { hasText: receiver.hookUrl });
    await endpoint.and(page.locator('.selected[data-enabled="true"]')).waitFor();
    const endpointId = await endpoint.getAttribute('data-endpoint-id');
    expect(await endpoint.locator('td').nth(1).innerText()).toBe('order.completed');
    expect(await page.locator('#webhook-detail-url').innerText()).toBe(receiver.hookUrl);
    await page.locator('#webhook-deliveries li.none', { hasText: 'Nothing sent to it yet.' }).waitFor();

    // The receiver checks signatures with the secret the panel showed, and refuses every delivery for now.
    Object.assign(receiver.receiver.settings, { secret, failNext: 1000, failStatus: 503 });
    const product = await createProduct({ stock: 10 });
    const orderId = await createOrder('cust_hooks', product.sku);

    const failed = page.locator('#webhook-deliveries li[data-status="failed"][data-event-type="order.completed"]');
    await failed.waitFor({ timeout: 30_000 });
    const deliveryId = await failed.getAttribute('data-delivery-id');
    expect(await failed.locator('.delivery-head').innerText()).toContain('2 attempts');
    const attempts = failed.locator('.attempts li');
    expect(await attempts.evaluateAll((items) => items.map((li) => `${li.getAttribute('data-outcome')} ${li.getAttribute('data-http-status')}`))).toEqual([
      'failed 503',
      'failed 503',
    ]);
    // The first attempt said when the next one would go out.
    expect(await attempts.nth(0).locator('.attempt-next').innerText()).toMatch(/^next retry \d\d:\d\d:\d\d$/);
    // Failures stand out: on --bad-bg.
    expect(await page.evaluate(`getComputedStyle(document.querySelector('#webhook-deliveries li[data-status="failed"]')).backgroundColor`)).toBe('rgb(253, 236, 236)');
    await endpoint.locator('td').nth(5).filter({ hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    expect(receiver.receiver.stats.refused).toBe(2);
    expect(receiver.receiver.received).toEqual([]);
    await page.locator('#webhooks-card').screenshot({ path: path.join(ARTIFACTS, 'dashboard-webhook-failed.png') });

    // The receiver is back: one more attempt, now.
    receiver.receiver.settings.failNext = 0;
    await failed.locator('button.retry-delivery').click();
    await page.locator('#webhook-detail-message').filter({ hasText: 'Retry sent' }).waitFor();
    const delivered = page.locator(`#webhook-deliveries li[data-delivery-id="${deliveryId}"][data-status="delivered"]`);
    await delivered.waitFor({ timeout: 15_000 });
    expect(await delivered.locator('.attempts li').evaluateAll((items) => items.map((li) => li.getAttribute('data-outcome')))).toEqual([
      'failed',
      'failed',
      'delivered',
    ]);
    expect(await delivered.locator('button.retry-delivery').count()).toBe(0);
    await endpoint.locator('td').nth(4).filter({ hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    expect(receiver.receiver.received.map((r) => ({ type: r.type, orderId: r.orderId, signatureValid: r.signatureValid }))).toEqual([
      { type: 'order.completed', orderId, signatureValid: true },
    ]);

    // A test ping goes to this endpoint alone, and is listed with its deliveries.
    await page.click('#webhook-ping');
    await page.locator('#webhook-deliveries li[data-event-type="ping"][data-status="delivered"]').waitFor({ timeout: 15_000 });
    expect(receiver.receiver.received.map((r) => r.type)).toEqual(['order.completed', 'ping']);

    // Turned off from the panel, with its reason; and on again.
    await page.click('#webhook-toggle');
    await page.locator(`#webhooks-table tbody tr[data-endpoint-id="${endpointId}"][data-enabled="false"]`, { hasText: 'Disabled by request' }).waitFor();
    await page.locator('#webhook-toggle', { hasText: 'Enable' }).waitFor();
    await page.click('#webhook-toggle');
    await page.locator(`#webhooks-table tbody tr[data-endpoint-id="${endpointId}"][data-enabled="true"]`).waitFor();
    await page.click('#webhook-secret-done');
    expect(await page.locator('#webhook-secret-box').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
