/* The "Recent orders" table: newest first, filtered by status; a row opens its order's timeline.
 * main.mjs reloads it when the live feed reports an order event, or every 2 s while the feed is down. */
/* global document, URLSearchParams */
import { api } from './api.mjs';
import { $, ago, badge, el, money, replaceChildren, shortId } from './dom.mjs';
import { markOk, markStale } from './live.mjs';
import { openTimeline, selectedOrderId } from './timeline.mjs';

const ORDERS_SHOWN = 20;

const state = {
  status: '',
  // order id + status pairs already shown: a row not seen before flashes ("fresh").
  seen: new Set(),
  loaded: false,
};

export function initOrders() {
  const buttons = document.querySelectorAll('#status-filter button');
  for (const button of buttons) {
    button.addEventListener('click', () => {
      state.status = button.dataset.status;
      for (const b of buttons) b.classList.toggle('active', b === button);
      refreshOrders().catch(markStale);
    });
  }
}

function itemsText(items) {
  if (!items || !items.length) return '';
  const first = items[0].quantity + ' × ' + items[0].sku;
  return items.length > 1 ? first + ' +' + (items.length - 1) + ' more' : first;
}

function orderRow(order) {
  const statusCell = el('td', null, [badge(order.status)]);
  if (order.failureReason) statusCell.appendChild(el('span', { className: 'reason', text: order.failureReason }));
  const tr = el('tr', { dataset: { orderId: order.id, status: order.status }, title: 'Open the timeline of ' + order.id }, [
    el('td', null, [el('code', { text: shortId(order.id) })]),
    el('td', { className: 'ellipsis', text: order.customerId }),
    el('td', { className: 'ellipsis', text: itemsText(order.items) }),
    el('td', { className: 'num', text: money(order.totalCents, order.currency) }),
    statusCell,
    el('td', { className: 'num', text: String(order.paymentAttempts || 0) }),
    el('td', { className: 'num age', title: order.createdAt, text: ago(order.createdAt) }),
  ]);
  const key = order.id + ':' + order.status;
  if (state.loaded && !state.seen.has(key)) tr.classList.add('fresh');
  state.seen.add(key);
  if (order.id === selectedOrderId()) tr.classList.add('selected');
  tr.addEventListener('click', () => openTimeline(order.id));
  return tr;
}

export async function refreshOrders() {
  const query = new URLSearchParams({ limit: String(ORDERS_SHOWN) });
  const status = state.status;
  if (status) query.set('status', status);
  const body = await api('/orders?' + query.toString());
  // The filter changed while this was on its way: the answer to the new filter is what counts.
  if (status !== state.status) return;
  markOk();
  const rows = body.orders.map(orderRow);
  state.loaded = true;
  replaceChildren(document.querySelector('#orders-table tbody'), rows);
  $('orders-empty').hidden = rows.length > 0;
  $('orders-empty').textContent = status ? 'No ' + status + ' orders.' : 'No orders yet.';
}

/** Between reloads (the live feed reloads only on changes) the Age column keeps counting. */
export function tickAges() {
  for (const td of document.querySelectorAll('#orders-table tbody td.age')) td.textContent = ago(td.title);
}

const FOOT = {
  connecting: '',
  stream: ' · live',
  polling: ' · refreshed every 2 s (live feed reconnecting)',
};

/** The card's foot line says how the list is kept up to date: `mode` is the feed's (main.mjs). */
export function showFeedMode(mode) {
  $('orders-foot').textContent = 'Newest ' + ORDERS_SHOWN + FOOT[mode] + ' · click an order for its timeline';
}
