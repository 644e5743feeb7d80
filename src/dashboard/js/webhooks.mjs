/* The "Webhooks" card: registered endpoints with their delivery counts, a form to register one
 * (its signing secret shown once), and the chosen endpoint's recent deliveries with each attempt,
 * a Retry button on a failed one, a test ping, and turning the endpoint off and on. */
/* global document, URLSearchParams */
import { api } from './api.mjs';
import { $, ago, badge, clock, el, fmtInt, replaceChildren, shortId, showNote } from './dom.mjs';

const DELIVERIES_SHOWN = 10;
/** Counts come from one GET /webhooks/:id per endpoint: the list shows the newest this many. */
const ENDPOINTS_SHOWN = 20;

const state = {
  selected: null,
  filter: '',
  // The chosen endpoint has a delivery on its way: main.mjs reloads the card more often.
  busy: false,
};

export const webhooksBusy = () => state.busy;

export function initWebhooks() {
  const everything = document.querySelector('#webhook-events input[value="*"]');
  const pickTypes = () => {
    for (const box of document.querySelectorAll('#webhook-events input:not([value="*"])')) box.disabled = everything.checked;
  };
  everything.addEventListener('change', pickTypes);
  pickTypes();
  $('webhook-form').addEventListener('submit', (event) => {
    event.preventDefault();
    register().catch((error) => showNote('webhook-message', errorText(error), true));
  });
  $('webhook-secret-done').addEventListener('click', () => {
    $('webhook-secret-box').hidden = true;
    $('webhook-secret').textContent = '';
  });

  const filters = document.querySelectorAll('#delivery-filter button');
  for (const button of filters) {
    button.addEventListener('click', () => {
      state.filter = button.dataset.status;
      for (const b of filters) b.classList.toggle('active', b === button);
      refreshWebhooks().catch((error) => showNote('webhook-detail-message', error.message, true));
    });
  }
  $('webhook-ping').addEventListener('click', () => act('/test', null, 'Test ping queued.'));
  $('webhook-toggle').addEventListener('click', () => {
    const enable = $('webhook-toggle').dataset.enable === 'true';
    act('', { method: 'PATCH', body: { enabled: enable } }, enable ? 'Enabled: new events are delivered again.' : 'Disabled: no new event is delivered to it.');
  });
}

/** The API's message, and what it says of each field (VALIDATION_FAILED). */
function errorText(error) {
  const details = (error.body && error.body.error && error.body.error.details) || [];
  return [error.message, ...details.map((d) => d.message).filter((m) => m && m !== error.message)].join(' · ');
}

async function register() {
  const picked = [...document.querySelectorAll('#webhook-events input:checked:not(:disabled)')].map((box) => box.value);
  if (!picked.length) {
    showNote('webhook-message', 'Choose at least one event.', true);
    return;
  }
  const body = { url: $('webhook-url').value.trim(), events: picked };
  const description = $('webhook-description').value.trim();
  if (description) body.description = description;
  $('webhook-submit').disabled = true;
  try {
    const { endpoint } = await api('/webhooks', { method: 'POST', body });
    showNote('webhook-message', 'Registered ' + endpoint.url + '.');
    $('webhook-secret').textContent = endpoint.secret;
    $('webhook-secret-box').hidden = false;
    $('webhook-url').value = '';
    $('webhook-description').value = '';
    select(endpoint.id);
  } finally {
    $('webhook-submit').disabled = false;
  }
}

/** POST/PATCH on the chosen endpoint (`path` after /webhooks/:id), then reloads the card. */
function act(path, options, done) {
  const id = state.selected;
  if (!id) return;
  api('/webhooks/' + encodeURIComponent(id) + path, options || { method: 'POST', body: {} }).then(() => {
    if (state.selected === id) showNote('webhook-detail-message', done);
    return refreshWebhooks();
  }).catch((error) => {
    if (state.selected === id) showNote('webhook-detail-message', errorText(error), true);
  });
}

function select(id) {
  if (state.selected !== id) {
    state.selected = id;
    state.filter = '';
    for (const b of document.querySelectorAll('#delivery-filter button')) b.classList.toggle('active', b.dataset.status === '');
    showNote('webhook-detail-message', '');
    replaceChildren($('webhook-deliveries'), []);
  }
  refreshWebhooks().catch((error) => showNote('webhook-detail-message', error.message, true));
}

export async function refreshWebhooks() {
  const { endpoints } = await api('/webhooks');
  const shown = endpoints.slice(-ENDPOINTS_SHOWN).reverse();
  // An endpoint removed (DELETE /webhooks/:id) between the two reads is left out.
  const details = await Promise.all(shown.map((e) => api('/webhooks/' + encodeURIComponent(e.id)).then((body) => body.endpoint, (error) => {
    if (error.status === 404) return null;
    throw error;
  })));
  const counted = details.filter(Boolean);
  const disabled = endpoints.filter((e) => !e.enabled).length;
  $('webhooks-note').textContent = endpoints.length
    ? fmtInt(endpoints.length) + (endpoints.length === 1 ? ' endpoint' : ' endpoints') + (disabled ? ' · ' + disabled + ' disabled' : '') +
      (endpoints.length > shown.length ? ' · newest ' + shown.length + ' shown' : '')
    : '';
  $('webhooks-empty').hidden = endpoints.length > 0;
  replaceChildren(document.querySelector('#webhooks-table tbody'), counted.map(endpointRow));

  const chosen = counted.find((e) => e.id === state.selected);
  if (!chosen) state.selected = null;
  $('webhook-detail').hidden = !chosen;
  $('webhook-hint').hidden = Boolean(chosen);
  $('webhook-hint').textContent = endpoints.length ? 'Choose an endpoint for its recent deliveries.' : 'Register an endpoint: what is sent to it shows here.';
  if (!chosen) {
    state.busy = false;
    return;
  }
  showEndpoint(chosen);
  const query = new URLSearchParams({ limit: String(DELIVERIES_SHOWN) });
  const filter = state.filter;
  if (filter) query.set('status', filter);
  const { deliveries } = await api('/webhooks/' + encodeURIComponent(chosen.id) + '/deliveries?' + query.toString());
  // Another endpoint or filter was chosen meanwhile: its own reload shows it.
  if (state.selected !== chosen.id || state.filter !== filter) return;
  showDeliveries(deliveries);
}

function countCell(value, kind) {
  const td = el('td', { className: 'num', text: fmtInt(value) });
  td.classList.add(value ? kind : 'zero');
  return td;
}

function endpointRow(e) {
  const counts = e.deliveries;
  const stateCell = el('td', null, [el('span', { className: 'badge ' + (e.enabled ? 'enabled' : 'disabled'), text: e.enabled ? 'enabled' : 'disabled' })]);
  if (!e.enabled && e.disabledReason) stateCell.appendChild(el('span', { className: 'reason', title: e.disabledReason, text: e.disabledReason }));
  const tr = el('tr', { dataset: { endpointId: e.id, enabled: String(e.enabled) }, title: 'Show the deliveries to ' + e.url }, [
    el('td', { className: 'ellipsis endpoint-url' }, [
      el('code', { title: e.url, text: e.url }),
      e.description ? el('span', { className: 'endpoint-desc', title: e.description, text: e.description }) : null,
    ]),
    el('td', { className: 'ellipsis', title: e.events.join(', '), text: e.events.includes('*') ? 'all' : e.events.join(', ') }),
    stateCell,
    countCell(counts.pending, 'busy'),
    countCell(counts.delivered, 'ok'),
    countCell(counts.failed, 'hot'),
  ]);
  if (e.id === state.selected) tr.classList.add('selected');
  tr.addEventListener('click', () => select(e.id));
  return tr;
}

function showEndpoint(endpoint) {
  $('webhook-detail-url').textContent = endpoint.url;
  const toggle = $('webhook-toggle');
  toggle.dataset.enable = String(!endpoint.enabled);
  toggle.textContent = endpoint.enabled ? 'Disable' : 'Enable';
}

function showDeliveries(deliveries) {
  state.busy = deliveries.some((d) => d.status === 'pending');
  replaceChildren($('webhook-deliveries'), deliveries.length
    ? deliveries.map(deliveryItem)
    : [el('li', { className: 'none', text: state.filter ? 'No ' + state.filter + ' delivery.' : 'Nothing sent to it yet.' })]);
}

function deliveryItem(d) {
  const head = [
    badge(d.status),
    el('code', { className: 'delivery-type', text: d.eventType || 'event' }),
    d.orderId ? el('span', { className: 'muted', title: d.orderId, text: 'order ' + shortId(d.orderId) + (d.sequence ? ' #' + d.sequence : '') }) : null,
    el('span', { className: 'muted', text: d.attempts + (d.attempts === 1 ? ' attempt' : ' attempts') }),
    el('span', { className: 'when', title: d.createdAt, text: ago(d.createdAt) + ' ago' }),
  ];
  if (d.status === 'failed') {
    const retry = el('button', { type: 'button', className: 'btn btn-small retry-delivery', text: 'Retry' });
    retry.addEventListener('click', () => {
      retry.disabled = true;
      act('/deliveries/' + encodeURIComponent(d.id) + '/retry', null, 'Retry sent: one more attempt now.');
    });
    head.push(retry);
  }
  let summary = null;
  if (d.status === 'delivered' && d.deliveredAt) summary = 'Delivered at ' + clock(d.deliveredAt);
  else if (d.status === 'pending' && d.nextAttemptAt) summary = 'Next attempt at ' + clock(d.nextAttemptAt);
  return el('li', { className: 'delivery ' + d.status, dataset: { deliveryId: d.id, status: d.status, eventType: d.eventType || '' } }, [
    el('div', { className: 'delivery-head' }, head),
    summary ? el('div', { className: 'delivery-summary muted', text: summary }) : null,
    d.attemptLog.length ? el('ol', { className: 'attempts' }, d.attemptLog.map(attemptItem)) : null,
  ]);
}

function attemptItem(a) {
  const parts = [
    el('span', { className: 'attempt-no', text: '#' + a.attempt }),
    el('span', { className: 'attempt-outcome', text: a.outcome }),
    el('span', { className: 'attempt-http', text: a.httpStatus ? 'HTTP ' + a.httpStatus : 'no answer' }),
    el('span', { className: 'attempt-ms', text: fmtInt(a.durationMs) + ' ms' }),
    el('span', { className: 'when', title: a.createdAt, text: clock(a.createdAt) }),
  ];
  if (a.nextRetryAt) parts.push(el('span', { className: 'attempt-next', title: a.nextRetryAt, text: 'next retry ' + clock(a.nextRetryAt) }));
  // A refusal's error is its status, already shown.
  if (a.error && a.error !== 'HTTP ' + a.httpStatus) parts.push(el('span', { className: 'attempt-error', title: a.error, text: a.error }));
  return el('li', { className: a.outcome, dataset: { outcome: a.outcome, httpStatus: a.httpStatus ? String(a.httpStatus) : '' } }, parts);
}
