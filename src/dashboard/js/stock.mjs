/* The "Stock" table (GET /admin/stock): products with available stock, low stock first and highlighted. */
/* global document */
import { api } from './api.mjs';
import { $, el, fmtInt, replaceChildren, setKpi } from './dom.mjs';

/** Reloads the table and the "Low stock" figure; resolves with the products shown. */
export async function refreshStock() {
  const body = await api('/admin/stock?limit=200');
  setKpi('kpi-low', fmtInt(body.low), 'of ' + fmtInt(body.total) + ' products');
  $('stock-note').textContent = body.low ? body.low + ' low of ' + body.total : body.total + ' products, none low';
  replaceChildren(document.querySelector('#stock-table tbody'), body.products.map((p) => {
    const out = p.available <= 0;
    const skuCell = el('td', null, [el('code', { text: p.sku })]);
    if (p.low) skuCell.appendChild(el('span', { className: 'tag ' + (out ? 'out' : 'low'), text: out ? 'OUT' : 'LOW' }));
    return el('tr', { className: p.low ? (out ? 'out' : 'low') : '', dataset: { sku: p.sku } }, [
      skuCell,
      el('td', { className: 'ellipsis', title: p.name, text: p.name }),
      el('td', { className: 'num avail', title: 'low at ' + p.lowStockThreshold + ' or fewer', text: fmtInt(p.available) }),
      el('td', { className: 'num', text: fmtInt(p.reserved) }),
      el('td', { className: 'num', text: fmtInt(p.onHand) }),
    ]);
  }));
  return body.products;
}
