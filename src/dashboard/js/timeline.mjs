/* The timeline drawer: one order's facts and its Order_Logs story, reloaded while it is still being written. */
/* global document */
import { api } from './api.mjs';
import { $, ago, badge, clock, el, money, replaceChildren, shortId } from './dom.mjs';
import { initRefunds, resetRefunds, showRefunds } from './payments.mjs';

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'refunded']);

const state = {
  selected: null,
  // The open order's story is complete: a terminal status and no refund on its way.
  settled: false,
};

export const selectedOrderId = () => state.selected;

/** `onOrderChanged()` is called when the drawer changed its order (a refund was asked for), for the other panels to reload. */
export function initTimeline({ onOrderChanged }) {
  $('timeline-close').addEventListener('click', closeTimeline);
  $('scrim').addEventListener('click', closeTimeline);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeTimeline();
  });
  initRefunds({
    selectedOrder: selectedOrderId,
    onRequested(orderId) {
      onOrderChanged();
      return loadTimeline(orderId);
    },
  });
}

function eventTone(event) {
  if (/COMPLETED|SUCCEEDED|COMMITTED/.test(event)) return 'ok';
  if (/FAILED|DECLINED|EXHAUSTED|EXPIRED|OUT_OF_STOCK/.test(event)) return 'bad';
  if (/LOW_STOCK|RELEASED|CANCELLED|DEFERRED/.test(event)) return 'warn';
  if (/REFUND|RESTOCKED/.test(event)) return 'refund';
  return 'info';
}

export function openTimeline(orderId) {
  state.selected = orderId;
  state.settled = false;
  $('timeline').hidden = false;
  $('scrim').hidden = false;
  $('timeline-id').textContent = orderId;
  $('timeline-title').textContent = 'Order';
  replaceChildren($('timeline-facts'), []);
  resetRefunds();
  replaceChildren($('timeline-events'), [el('li', { className: 'muted', text: 'Loading…' })]);
  for (const tr of document.querySelectorAll('#orders-table tbody tr')) tr.classList.toggle('selected', tr.dataset.orderId === orderId);
  loadTimeline(orderId).catch((error) => {
    replaceChildren($('timeline-events'), [el('li', { className: 'muted', text: 'Could not load the order: ' + error.message })]);
  });
}

export function closeTimeline() {
  state.selected = null;
  state.settled = false;
  $('timeline').hidden = true;
  $('scrim').hidden = true;
  for (const tr of document.querySelectorAll('#orders-table tbody tr.selected')) tr.classList.remove('selected');
}

/** Reloads the open order, unless its story is complete. */
export function refreshTimeline() {
  if (!state.selected || state.settled) return Promise.resolve();
  return loadTimeline(state.selected);
}

const fact = (label, value) => [el('dt', { text: label }), el('dd', null, [value])];

async function loadTimeline(orderId) {
  const body = await api('/orders/' + encodeURIComponent(orderId));
  if (state.selected !== orderId) return;
  const order = body.order;
  const refundPending = showRefunds(order);
  state.settled = TERMINAL.has(order.status) && !refundPending;
  replaceChildren($('timeline-title'), [document.createTextNode('Order ' + shortId(order.id)), badge(order.status)]);
  const items = order.items.map((i) => i.quantity + ' × ' + i.sku + ' (' + i.name + ')').join(', ');
  const facts = [
    ...fact('Customer', order.customerId),
    ...fact('Total', money(order.totalCents, order.currency)),
    ...fact('Items', items),
    ...fact('Payment attempts', String(order.paymentAttempts)),
    ...fact('Created', new Date(order.createdAt).toLocaleString() + ' (' + ago(order.createdAt) + ' ago)'),
  ];
  if (order.failureReason) facts.push(...fact('Failure reason', order.failureReason));
  replaceChildren($('timeline-facts'), facts);

  replaceChildren($('timeline-events'), order.timeline.map((e) => {
    const meta = [];
    if (e.attempt) meta.push('attempt ' + e.attempt);
    if (e.jobId) meta.push('job ' + shortId(e.jobId));
    if (e.requestId) meta.push('request ' + e.requestId);
    return el('li', { className: eventTone(e.event), dataset: { event: e.event } }, [
      el('div', { className: 'ev-head' }, [
        el('span', { className: 'ev-name', text: e.event }),
        el('span', { className: 'ev-time', title: e.createdAt, text: clock(e.createdAt, true) }),
        e.fromStatus || e.toStatus ? el('span', { className: 'ev-move', text: (e.fromStatus ? e.fromStatus + ' → ' : '→ ') + (e.toStatus || '') }) : null,
      ]),
      el('div', { className: 'ev-msg', text: e.message }),
      meta.length ? el('div', { className: 'ev-meta', text: meta.join(' · ') }) : null,
    ]);
  }));
}
