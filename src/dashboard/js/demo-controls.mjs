/* Demo controls for the mock payment provider and warehouse (/admin/mocks/*). They exist only where
 * the mocks run in the service's own process: each control shows once its route answers. */
/* global document */
import { api } from './api.mjs';
import { $, el, pct, replaceChildren, showNote } from './dom.mjs';

const state = {
  // Until the GET that probes them answers, they are assumed absent (so nothing is asked of a missing route).
  mocks: { payments: false, warehouse: false },
  // The SKUs in the warehouse's list, to rebuild it only when they change.
  skus: '',
  // A level that arrives after the user typed a quantity or sent one must not overwrite either.
  edits: 0,
};

export function initDemoControls() {
  $('pay-failure').addEventListener('input', syncSliderOutputs);
  $('pay-decline').addEventListener('input', syncSliderOutputs);
  $('payments-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const change = {
      failureRate: Number($('pay-failure').value) / 100,
      declineRate: Number($('pay-decline').value) / 100,
      latencyMs: Number($('pay-latency').value) || 0,
      down: $('pay-down').checked,
    };
    api('/admin/mocks/payments/config', { method: 'PUT', body: change }).then((body) => {
      paymentInputs(body.config);
      showNote('payments-message', 'Applied: failures ' + pct(body.config.failureRate) + ', declines ' + pct(body.config.declineRate) +
        ', latency ' + body.config.latencyMs + ' ms' + (body.config.down ? ', provider DOWN' : '') + '.');
    }, (error) => showNote('payments-message', error.message, true));
  });

  $('wh-qty').addEventListener('input', () => {
    state.edits += 1;
  });
  $('wh-sku').addEventListener('change', loadWarehouseLevel);
  $('warehouse-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const sku = $('wh-sku').value;
    const quantity = Number($('wh-qty').value);
    if (!sku || !Number.isInteger(quantity) || quantity < 0) {
      showNote('warehouse-message', 'Choose a SKU and a whole quantity of 0 or more.', true);
      return;
    }
    state.edits += 1;
    api('/admin/mocks/warehouse/stock/' + encodeURIComponent(sku), { method: 'PUT', body: { quantity } }).then((level) => {
      showNote('warehouse-message', 'The warehouse now holds ' + level.quantity + ' of ' + sku + '; the next sync applies it (or press Sync now).');
    }, (error) => showNote('warehouse-message', error.message, true));
  });
}

/** Shows each demo control whose route answers; a 404 means that mock does not run in the service's process. */
export function probeDemoControls() {
  showDemoControls();
  api('/admin/mocks/payments/config').then((body) => {
    state.mocks.payments = true;
    showDemoControls();
    $('payments-url').textContent = body.url || '';
    paymentInputs(body.config);
    showNote('payments-message', '');
  }, (error) => {
    if (error.status === 404) return;
    state.mocks.payments = true;
    showDemoControls();
    showNote('payments-message', error.message, true);
  });
  api('/admin/mocks/warehouse').then(() => {
    state.mocks.warehouse = true;
    showDemoControls();
    loadWarehouseLevel();
  }, (error) => {
    if (error.status === 404) return;
    state.mocks.warehouse = true;
    showDemoControls();
    showNote('warehouse-message', error.message, true);
  });
}

function showDemoControls() {
  $('payments-form').hidden = !state.mocks.payments;
  $('warehouse-form').hidden = !state.mocks.warehouse;
  $('demo-controls').hidden = !state.mocks.payments && !state.mocks.warehouse;
}

function syncSliderOutputs() {
  $('pay-failure-out').textContent = $('pay-failure').value + '%';
  $('pay-decline-out').textContent = $('pay-decline').value + '%';
}

function paymentInputs(config) {
  $('pay-failure').value = Math.round(config.failureRate * 100);
  $('pay-decline').value = Math.round(config.declineRate * 100);
  $('pay-latency').value = config.latencyMs;
  $('pay-down').checked = Boolean(config.down);
  syncSliderOutputs();
}

/** The warehouse's SKU list follows the catalog's products (from the stock panel's reload). */
export function fillWarehouseSkus(products) {
  const skus = products.map((p) => p.sku).sort();
  const key = skus.join('\n');
  if (key === state.skus) return;
  state.skus = key;
  const select = $('wh-sku');
  const current = select.value;
  replaceChildren(select, skus.map((sku) => el('option', { value: sku, text: sku })));
  if (current && skus.includes(current)) select.value = current;
  loadWarehouseLevel();
}

function loadWarehouseLevel() {
  const sku = $('wh-sku').value;
  if (!sku || !state.mocks.warehouse) return;
  const edits = state.edits;
  // Nor may it land while the field has focus (between a select-all and the typing).
  const typing = () => edits !== state.edits || document.activeElement === $('wh-qty');
  api('/admin/mocks/warehouse/stock/' + encodeURIComponent(sku)).then((level) => {
    if ($('wh-sku').value === sku && !typing()) {
      $('wh-qty').value = level.quantity;
      showNote('warehouse-message', 'The warehouse holds ' + level.quantity + ' of ' + sku + '.');
    }
  }, (error) => {
    if (typing()) return;
    $('wh-qty').value = '';
    showNote('warehouse-message', error.status === 404 ? 'The warehouse does not know ' + sku + ' yet: set a level to add it.' : error.message, error.status !== 404);
  });
}
