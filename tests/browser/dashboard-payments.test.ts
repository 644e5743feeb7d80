import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { createClient } from '../../src/modules/auth';
import { Product } from '../../src/modules/catalog';
import { PaymentCircuit } from '../../src/modules/payments';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { createProduct, eventually, startTestApp, waitForTerminal, type TestApp } from '../helpers/test-app';
import { closeChromium, launchChromium, watchedPage } from '../helpers/browser';

/**
 * The dashboard's payment side in headless Chromium (as dashboard.test.ts): an admin refunds a
 * completed order from its timeline drawer, and the "Payment provider" card follows the circuit
 * breaker through an outage switched on and off with the page's own demo controls. The circuit's
 * settings are small so it trips and probes quickly: 4 calls in 30 s, probe after 3 s.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');
const ADMIN = { clientId: 'payments-admin', secret: 'payments-admin-secret-0123456789' };
/** A second worker process, as `ROLE=worker` × 2 would have: its row in "Payment_Circuits" (the test runs one process). */
const OTHER_WORKER = 'worker-b.example:4242';

describe('dashboard: refunds and the payment provider card in a real browser', () => {
  let t: TestApp;
  let server: RunningServer;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({
      workers: true,
      env: {
        // Enough attempts that no order runs out of them before the circuit opens.
        PAYMENT_MAX_ATTEMPTS: '8',
        PAYMENT_RETRY_DELAY_S: '1',
        PAYMENT_CIRCUIT_VOLUME: '4',
        PAYMENT_CIRCUIT_WINDOW_S: '30',
        PAYMENT_CIRCUIT_RESET_S: '3',
        REFUND_RETRY_DELAY_S: '1',
      },
    });
    await createClient({ clientId: ADMIN.clientId, role: 'admin', secret: ADMIN.secret });
    server = await listen(t.app, 0);

    browser = await launchChromium({ viewport: { width: 1440, height: 900 }, baseURL: server.url });
    // This app runs no warehouse mock: the page's probe of its demo controls is answered 404, as it should be.
    page = await watchedPage(browser, pageErrors, (url) => url.endsWith('/admin/mocks/warehouse'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });

    await page.goto('/dashboard');
    await page.fill('#client-id', ADMIN.clientId);
    await page.fill('#client-secret', ADMIN.secret);
    await page.click('#login-submit');
    await page.locator('#app-view').waitFor();
  });

  afterAll(async () => {
    await closeChromium(browser);
    await server?.close();
    await t?.stop();
  });

  afterEach(async () => {
    Object.assign(t.payments.settings, { failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: 0, down: false });
    await page.keyboard.press('Escape'); // a drawer a failed test left open would cover the next test's clicks
  });

  async function createOrder(customerId: string, sku: string, quantity: number): Promise<string> {
    const res = await t.http.post('/orders/create').send({ customerId, items: [{ sku, quantity }] });
    expect(res.status).toBe(202);
    return res.body.order.id;
  }

  const row = (orderId: string, status?: string) =>
    page.locator(`#orders-table tbody tr[data-order-id="${orderId}"]${status ? `[data-status="${status}"]` : ''}`);
  const events = () => page.locator('#timeline-events li').evaluateAll((items) => items.map((li) => li.getAttribute('data-event')));

  async function openOrder(orderId: string, status: string) {
    await row(orderId, status).waitFor({ timeout: 20_000 });
    await row(orderId).click();
    await page.locator('#timeline-id').filter({ hasText: orderId }).waitFor();
    await page.locator(`#timeline-title .badge.${status}`).waitFor();
  }

  const OK_GREEN = 'rgb(22, 163, 74)'; // --ok
  const BAD_RED = 'rgb(220, 38, 38)'; // --bad
  /** Waits until the card's circuit badge reads `text` in the state's colour (closed: green text, open: white on red). */
  async function circuitBadge(text: string, colour: string, timeout = 5_000) {
    const [t1, c1] = [JSON.stringify(text), JSON.stringify(colour)];
    await page.waitForFunction(
      `(() => { const b = document.getElementById('circuit-state'); const s = getComputedStyle(b);
        return b.textContent === ${t1} && (s.color === ${c1} || s.backgroundColor === ${c1}); })()`,
      undefined,
      { timeout },
    );
  }

  async function closeDrawer() {
    await page.click('#timeline-close');
    await page.locator('#timeline').waitFor({ state: 'hidden' });
  }

  it('when an admin refunds a completed order from its timeline, then it becomes refunded with the refund paid out and shown, its goods back in stock and the refund counted', async () => {
    const product = await createProduct({ stock: 20, priceCents: 1250 });
    const orderId = await createOrder('cust_refund', product.sku, 2);
    await openOrder(orderId, 'completed');

    // A completed order offers the refund, goods back in stock by default; no refund is listed yet.
    await page.locator('#refund-form').waitFor();
    expect(await page.locator('#refund-restock').isChecked()).toBe(true);
    expect(await page.locator('#refund-submit').innerText()).toBe('Refund 25.00 EUR');
    expect(await page.locator('#timeline-refunds').isHidden()).toBe(true);
    expect((await Product.findByPk(product.id))?.stockOnHand).toBe(18);

    await page.click('#refund-submit');
    await page.locator('#refund-message').filter({ hasText: 'Refund requested' }).waitFor();
    // The drawer keeps reloading while the refund is on its way, until the order is refunded.
    await page.locator('#timeline-title .badge.refunded').waitFor({ timeout: 20_000 });
    await page.locator('#refund-message').filter({ hasText: 'Refunded: the provider confirmed the refund.' }).waitFor();
    const refund = page.locator('#refund-list li');
    expect(await refund.count()).toBe(1);
    await refund.and(page.locator('[data-status="succeeded"][data-reason="requested"]')).waitFor();
    expect(await refund.locator('.refund-amount').innerText()).toBe('25.00 EUR');
    const refundId = await refund.locator('.refund-id').innerText();
    expect(refundId).toMatch(/^re_/);
    expect(await refund.innerText()).toContain('1 attempt');
    expect(await refund.innerText()).toContain('goods back in stock');
    expect(await page.locator('#refund-form').isHidden()).toBe(true);
    const story = await events();
    expect(story).toEqual(expect.arrayContaining(['REFUND_REQUESTED', 'REFUND_SUCCEEDED', 'STOCK_RESTOCKED']));
    expect(story[story.length - 1]).toBe('ORDER_REFUNDED');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-refund.png') });
    await closeDrawer();

    // What the page says is what happened: one refund at the provider, the refund id the drawer shows, the goods back on hand.
    const atProvider = [...t.payments.refunds.values()].filter((r) => r.orderId === orderId);
    expect(atProvider.map((r) => ({ id: r.id, amountCents: r.amountCents }))).toEqual([{ id: refundId, amountCents: 2500 }]);
    expect((await Product.findByPk(product.id))?.stockOnHand).toBe(20);

    // Everywhere statuses are shown: the table row, the Refunded filter, the chart's legend, the card's refund count.
    await row(orderId, 'refunded').waitFor({ timeout: 10_000 });
    expect(await row(orderId).locator('td').nth(4).innerText()).toBe('refunded');
    await page.click('#status-filter button[data-status="refunded"]');
    await page.waitForFunction(
      `[...document.querySelectorAll('#orders-table tbody tr')].map((tr) => tr.dataset.orderId + ':' + tr.dataset.status).join() === '${orderId}:refunded'`,
    );
    await page.click('#status-filter button[data-status=""]');
    await page.locator('#chart-legend [data-series="refunded"] strong').filter({ hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    await page.locator('#chart .bar-refunded').first().waitFor();
    await page.locator('#refunds-succeeded').filter({ hasText: /^1$/ }).waitFor();
    expect(await page.locator('#kpi-completed-rate').innerText()).toBe('100% ok · 1 refunded');
    expect(await page.locator('#refunds-requested').innerText()).toBe('0');
    expect(await page.locator('#refunds-failed').innerText()).toBe('0');
    expect(pageErrors).toEqual([]);
  });

  it('when the API refuses a refund, then the drawer shows the API\'s message and nothing is refunded', async () => {
    const product = await createProduct({ stock: 20 });
    t.payments.settings.declineRate = 1;
    const failedId = await createOrder('cust_refused', product.sku, 1);
    expect((await waitForTerminal(t, failedId)).status).toBe('failed');
    t.payments.settings.declineRate = 0;
    const orderId = await createOrder('cust_refused', product.sku, 1);
    await openOrder(orderId, 'completed');
    await page.locator('#refund-form').waitFor();

    // Only a completed order shows the button, so the service's refusal is reached by sending the
    // page's request to the failed order instead: the message shown is the service's own 409.
    const refundPath = `/orders/${orderId}/refund`;
    await page.route((url) => url.pathname === refundPath, (route) => route.continue({ url: `${server.url}/orders/${failedId}/refund` }));
    const answer = page.waitForResponse((res) => res.request().method() === 'POST' && /\/refund$/.test(new URL(res.url()).pathname));
    await page.click('#refund-submit');
    const res = await answer;
    expect(res.status()).toBe(409);
    expect((await res.json()).error.code).toBe('ORDER_NOT_REFUNDABLE');
    await page.unroute((url) => url.pathname === refundPath);
    const note = page.locator('#refund-message.error');
    await note.waitFor();
    expect(await note.innerText()).toBe('The order is failed; only a completed order can be refunded');
    expect(await page.locator('#refund-submit').isEnabled()).toBe(true);
    expect(await page.locator('#refund-form').isVisible()).toBe(true);
    await closeDrawer();

    for (const id of [orderId, failedId]) expect((await t.http.get(`/orders/${id}`)).body.order.refunds).toEqual([]);
    expect((await t.http.get(`/orders/${orderId}`)).body.order.status).toBe('completed');
    // The browser logs the refused request (409) as a console error: expected here.
    expect(pageErrors.filter((e) => !e.includes('409'))).toEqual([]);
    pageErrors.length = 0;
  });

  it('when the provider is switched down from the demo controls and orders keep coming, then the Payment provider card shows the circuit open with its next probe, and closed again once the provider is back', async () => {
    // Another worker process whose circuit stays closed: the card then lists each process.
    await PaymentCircuit.upsert({ process: OTHER_WORKER, state: 'closed', changedAt: new Date(), nextProbeAt: null });
    const card = page.locator('#provider-card');
    await page.locator('#provider-card[data-circuit="closed"]').waitFor({ timeout: 10_000 });
    await circuitBadge('circuit closed', OK_GREEN);
    expect(await page.locator('#circuit-settings').innerText()).toBe('Opens when over 80% of at least 4 calls in 30 s fail · probes after 3 s');

    await page.locator('#payments-form').waitFor();
    await page.check('#pay-down');
    await page.click('#payments-form button[type="submit"]');
    await page.locator('#payments-message').filter({ hasText: 'provider DOWN' }).waitFor();
    expect(t.payments.settings.down).toBe(true);

    const product = await createProduct({ stock: 50, priceCents: 300 });
    // Enough failing charges that their first two rounds outweigh the successes the earlier tests
    // left in the breaker's 30 s window (it opens past 80 % failures): with five, how soon it
    // opened depended on how quickly those tests had run.
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) ids.push(await createOrder(`cust_outage_${i}`, product.sku, 1));

    // The card polls every 2 s and an open circuit half-opens for its probes: wait for each sign rather than read it once.
    await page.locator('#provider-card[data-circuit="open"]').waitFor({ timeout: 20_000 });
    await circuitBadge('circuit open', BAD_RED, 10_000);
    await page.locator('#circuit-line').filter({ hasText: 'Open (1 of 2 worker processes): charges and refunds wait' }).waitFor({ timeout: 10_000 });
    // While open, the card says when the next probe goes out (the open circuit rewrites it at every failed probe).
    await page.locator('#circuit-next-probe').filter({ hasText: /^\d\d:\d\d:\d\d \((in \d+ s|due)\)$/ }).waitFor({ timeout: 10_000 });
    const processes = page.locator('#circuit-processes');
    await processes.waitFor();
    await processes.locator(`tbody tr[data-process="${OTHER_WORKER}"][data-state="closed"]`).waitFor();
    await processes.locator(`tbody tr[data-state="open"]:not([data-process="${OTHER_WORKER}"])`).waitFor({ timeout: 10_000 });
    expect(await processes.locator('tbody tr').count()).toBe(2);
    // The orders wait for the provider instead of running out of attempts.
    for (const id of ids) await row(id, 'reserved').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-circuit-open.png') });

    // A deferred charge is in its order's story, in the warning colour.
    const deferred = await eventually(async () => {
      for (const id of ids) {
        const order = (await t.http.get(`/orders/${id}`)).body.order;
        if (order.timeline.some((e: { event: string }) => e.event === 'PAYMENT_DEFERRED')) return id;
      }
      return null;
    }, 15_000);
    await row(deferred).click();
    await page.locator('#timeline-events li.warn[data-event="PAYMENT_DEFERRED"]').first().waitFor();
    await closeDrawer();

    // The provider comes back: the next probe succeeds, the circuit closes and every order completes.
    await page.uncheck('#pay-down');
    await page.click('#payments-form button[type="submit"]');
    await page.locator('#payments-message').filter({ hasText: /latency 0 ms\.$/ }).waitFor();
    await page.locator('#provider-card[data-circuit="closed"]').waitFor({ timeout: 30_000 });
    await circuitBadge('circuit closed', OK_GREEN);
    expect(await page.locator('#circuit-line').innerText()).toBe('Closed: calls go through.');
    expect(await page.locator('#circuit-next-probe').count()).toBe(0);
    expect(await processes.locator('tbody tr[data-state="closed"]').count()).toBe(2);
    for (const id of ids) await row(id, 'completed').waitFor({ timeout: 30_000 });
    expect(await card.isVisible()).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-circuit-closed.png') });
    expect(pageErrors).toEqual([]);
  });
});
