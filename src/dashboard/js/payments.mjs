/* The payment side: the "Payment provider" card (circuit breaker, refund counts) and, in the
 * timeline drawer, an order's refunds and the Refund button of a completed order (POST /orders/:id/refund). */
/* global document */
import { api } from './api.mjs';
import { $, ago, badge, clock, el, fmtInt, money, replaceChildren } from './dom.mjs';

// ---------------------------------------------------------------- the card: circuit breaker and refunds
const CIRCUIT_TEXT = { closed: 'closed', half_open: 'half-open', open: 'open' };

const circuitBadge = (circuitState) => el('span', { className: 'badge circuit-' + circuitState, text: CIRCUIT_TEXT[circuitState] || circuitState });

/** "14:02:11 (in 4 s)", or "(due)" once the time has passed and the probe has not been reported yet. */
function probeText(iso) {
  const s = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  return clock(iso) + (s > 0 ? ' (in ' + s + ' s)' : ' (due)');
}

export function renderProvider(payments) {
  const card = $('provider-card');
  if (!payments || !payments.circuit) {
    card.hidden = true;
    return;
  }
  card.hidden = false;
  const c = payments.circuit;
  const settings = c.settings || {};
  const enabled = settings.enabled !== false;
  const processes = c.processes || [];
  const circuitState = enabled ? c.state : 'off';
  card.dataset.circuit = circuitState;
  const head = $('circuit-state');
  head.className = 'badge circuit-' + circuitState;
  head.textContent = enabled ? 'circuit ' + (CIRCUIT_TEXT[circuitState] || circuitState) : 'no circuit breaker';

  const line = [];
  const where = processes.length > 1 && c.state !== 'closed'
    ? ' (' + processes.filter((p) => p.state === c.state).length + ' of ' + processes.length + ' worker processes)'
    : '';
  if (!enabled) {
    line.push('Every charge and refund calls the provider, whatever its state (PAYMENT_CIRCUIT_ENABLED is off).');
  } else if (c.state === 'open') {
    line.push(el('strong', { text: 'Open' + where + ': ' }), 'charges and refunds wait, no call reaches the provider.');
    const next = processes.filter((p) => p.state === 'open').map((p) => p.nextProbeAt).filter(Boolean).sort()[0];
    if (next) line.push(' Next probe at ', el('span', { id: 'circuit-next-probe', className: 'mono', title: next, text: probeText(next) }), '.');
  } else if (c.state === 'half_open') {
    line.push(el('strong', { text: 'Half-open' + where + ': ' }), 'one call probes the provider; its answer closes the circuit or opens it again.');
  } else {
    line.push('Closed: calls go through.');
    // A process reports its circuit at its first change of state: none listed means none has tripped.
    if (!processes.length) line.push(' No worker\'s circuit has opened lately.');
  }
  replaceChildren($('circuit-line'), line.map((part) => (typeof part === 'string' ? document.createTextNode(part) : part)));

  // One row per worker process, only when there is more than one (one process is the card's own state).
  const table = $('circuit-processes');
  table.hidden = processes.length < 2;
  replaceChildren(table.querySelector('tbody'), processes.length < 2 ? [] : processes.map((p) =>
    el('tr', { dataset: { process: p.process, state: p.state } }, [
      el('td', { className: 'ellipsis', title: p.process }, [el('code', { text: p.process })]),
      el('td', null, [circuitBadge(p.state)]),
      el('td', { className: 'num', title: p.changedAt, text: ago(p.changedAt) }),
      el('td', { className: 'num', title: p.nextProbeAt || '', text: p.nextProbeAt ? clock(p.nextProbeAt) : '–' }),
    ])));

  const refunds = payments.refunds || {};
  $('refunds-requested').textContent = fmtInt(refunds.requested);
  $('refunds-succeeded').textContent = fmtInt(refunds.succeeded);
  $('refunds-failed').textContent = fmtInt(refunds.failed);
  $('refunds-failed-box').classList.toggle('alert', Number(refunds.failed) > 0);

  $('circuit-settings').textContent = enabled
    ? 'Opens when over ' + settings.errorThresholdPercent + '% of at least ' + settings.volumeThreshold + ' calls in ' + settings.windowSeconds +
      ' s fail · probes after ' + settings.resetSeconds + ' s'
    : '';
}

// ---------------------------------------------------------------- the drawer: an order's refunds and its Refund button
const REFUND_REASON_TEXT = { requested: 'asked for by an admin', late_charge: 'a charge that landed after the order closed' };

// The order whose refund this page asked for and still waits on (to say so once it is refunded).
let refundAsked = null;

function refundNote(text, isError) {
  const note = $('refund-message');
  note.hidden = !text;
  note.className = 'form-note refund-note' + (isError ? ' error' : '');
  note.textContent = text;
}

function renderRefunds(refunds) {
  $('timeline-refunds').hidden = !refunds.length;
  replaceChildren($('refund-list'), refunds.map((r) => {
    const body = [r.refundId ? el('code', { className: 'refund-id', text: r.refundId }) : el('span', { className: 'muted', text: 'not paid out yet' })];
    body.push(' · charge ', el('code', { text: r.chargeId || '–' }));
    body.push(' · ' + r.attempts + (r.attempts === 1 ? ' attempt' : ' attempts'));
    if (r.reason === 'requested') {
      body.push(' · ' + (!r.restock ? 'goods not restocked' : r.status === 'succeeded' ? 'goods back in stock' : 'goods go back in stock once it is paid'));
    }
    return el('li', { dataset: { status: r.status, reason: r.reason } }, [
      el('div', { className: 'refund-head' }, [
        badge(r.status),
        el('strong', { className: 'refund-amount', text: money(r.amountCents, r.currency) }),
        el('span', { className: 'muted', text: REFUND_REASON_TEXT[r.reason] || r.reason }),
        el('span', { className: 'when', title: 'requested ' + r.requestedAt + ', updated ' + r.updatedAt, text: ago(r.updatedAt) + ' ago' }),
      ]),
      el('div', { className: 'refund-body' }, body),
      r.errorMessage || r.errorCode ? el('div', { className: 'refund-error', text: (r.errorCode ? r.errorCode + ': ' : '') + (r.errorMessage || '') }) : null,
    ]);
  }));
}

/** The drawer opens on another order: no refunds, no note, the form as new. */
export function resetRefunds() {
  $('timeline-refunds').hidden = true;
  replaceChildren($('refund-list'), []);
  $('refund-form').hidden = true;
  $('refund-restock').checked = true;
  $('refund-submit').disabled = false;
  refundNote('');
  refundAsked = null;
}

/** Shows the open order's refunds and offers the Refund button; returns whether a refund is still on its way. */
export function showRefunds(order) {
  const refunds = order.refunds || [];
  // A refund on its way, or one already paid out while the order still reads `completed`: GET /orders/:id
  // reads the order and then its refunds in separate queries, so an answer can land between the two.
  // Either way the story is still being written: keep reading it.
  const refundPending = refunds.some((r) => r.status === 'requested' || (r.status === 'succeeded' && r.reason === 'requested' && order.status !== 'refunded'));
  renderRefunds(refunds);
  if (refundAsked === order.id && order.status === 'refunded') {
    refundAsked = null;
    refundNote('Refunded: the provider confirmed the refund.');
  }
  // A completed order can be refunded, unless its refund is already on its way (asking again would change nothing).
  $('refund-form').hidden = order.status !== 'completed' || refundPending;
  $('refund-submit').textContent = 'Refund ' + money(order.totalCents, order.currency);
  return refundPending;
}

/**
 * The Refund button. `selectedOrder()` is the drawer's order; `onRequested(orderId)` reloads what
 * the refund changes and resolves once the drawer shows it.
 */
export function initRefunds({ selectedOrder, onRequested }) {
  $('refund-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const orderId = selectedOrder();
    if (!orderId) return;
    const button = $('refund-submit');
    button.disabled = true;
    refundNote('Asking for the refund…');
    const body = $('refund-restock').checked ? {} : { restock: false };
    api('/orders/' + encodeURIComponent(orderId) + '/refund', { method: 'POST', body }).then((answer) => {
      if (selectedOrder() !== orderId) return undefined;
      const already = answer.order.status === 'refunded';
      refundAsked = already ? null : orderId;
      refundNote(already ? 'This order is already refunded.' : 'Refund requested: the order becomes refunded when the provider confirms it.');
      return onRequested(orderId).catch((error) => {
        refundNote('Refund requested, but the order could not be reloaded: ' + error.message, true);
      });
    }, (error) => {
      if (selectedOrder() === orderId) refundNote(error.message, true);
    }).then(() => {
      button.disabled = false;
    });
  });
}
