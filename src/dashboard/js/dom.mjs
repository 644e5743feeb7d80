/* DOM and formatting helpers. Every value from the API goes into the page as text (textContent), never as HTML. */
/* global document */

const SVG_NS = 'http://www.w3.org/2000/svg';

export const $ = (id) => document.getElementById(id);

/** el('td', {className: 'num', title: '…'}, ['text', childNode]) */
export function el(tag, props, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else node[key] = value;
  }
  for (const child of children || []) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  return node;
}

export function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function replaceChildren(node, children) {
  while (node.firstChild) node.removeChild(node.firstChild);
  for (const child of children) node.appendChild(child);
}

export const fmtInt = (n) => Number(n || 0).toLocaleString('en-US');
export const money = (cents, currency) => (Number(cents) / 100).toFixed(2) + ' ' + currency;
export const pct = (x) => Math.round(Number(x || 0) * 100) + '%';
export const shortId = (id) => (id ? String(id).slice(0, 8) : '');

export function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d';
}

export function clock(iso, withMs) {
  const d = new Date(iso);
  const pad = (n, w) => String(n).padStart(w || 2, '0');
  const text = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  return withMs ? text + '.' + pad(d.getMilliseconds(), 3) : text;
}

export const badge = (status) => el('span', { className: 'badge ' + status, text: status });

/** A KPI's value, and its note when it has one (`<id>-note`). */
export function setKpi(id, value, note) {
  $(id).textContent = value;
  if (note !== undefined && $(id + '-note')) $(id + '-note').textContent = note;
}

/** A form's status line: `text`, in red when `isError`. */
export function showNote(id, text, isError) {
  const note = $(id);
  note.className = 'form-note' + (isError ? ' error' : '');
  note.textContent = text;
}
