/* GET /admin/overview: the key figures, the chart, the queues, failed jobs, inventory syncs and the payment provider card. */
/* global document */
import { api } from './api.mjs';
import { renderChart } from './chart.mjs';
import { $, ago, badge, el, fmtInt, pct, replaceChildren, setKpi, shortId } from './dom.mjs';
import { markOk, markStale } from './live.mjs';
import { renderProvider } from './payments.mjs';
import { openTimeline } from './timeline.mjs';

export function initOverview() {
  $('sync-now').addEventListener('click', () => {
    const note = $('sync-message');
    note.className = 'form-note';
    api('/inventory/sync', { method: 'POST' }).then((body) => {
      note.textContent = (body.alreadyQueued ? 'A sync is already queued (job ' : 'Sync queued (job ') + shortId(body.jobId) + ').';
      refreshOverview().catch(markStale);
    }, (error) => {
      note.className = 'form-note error';
      note.textContent = error.message;
    });
  });
}

export async function refreshOverview() {
  const o = await api('/admin/overview');
  markOk();
  renderKpis(o);
  renderChart(o.orders);
  renderQueues(o.queues);
  renderFailedJobs(o.failedJobs);
  renderSyncs(o.syncs);
  renderProvider(o.payments);
}

function renderKpis(o) {
  const h = o.orders.lastHour;
  setKpi('kpi-created', fmtInt(h.created));
  setKpi('kpi-completed', fmtInt(h.completed));
  // A refunded order went through (it was charged and completed before its refund): it counts as ok.
  const refunded = h.refunded || 0;
  const settled = h.completed + refunded + h.failed;
  $('kpi-completed-rate').textContent = settled ? pct((h.completed + refunded) / settled) + ' ok' + (refunded ? ' · ' + fmtInt(refunded) + ' refunded' : '') : '';
  setKpi('kpi-failed', fmtInt(h.failed));
  const flight = o.orders.inFlight;
  setKpi('kpi-inflight', fmtInt(flight.pending + flight.reserved), flight.pending + ' pending · ' + flight.reserved + ' reserved');
  let waiting = 0;
  let retry = 0;
  let dead = 0;
  for (const q of o.queues) {
    if (q.deadLetter) dead += q.counts.created + q.counts.active + q.counts.retry;
    else {
      waiting += q.counts.created;
      retry += q.counts.retry;
    }
  }
  setKpi('kpi-waiting', fmtInt(waiting), retry ? retry + ' in retry' : 'none in retry');
  const b = o.backlog;
  setKpi('kpi-backlog', b.oldestSeconds + ' s', b.shedding ? 'intake refusing orders (over ' + b.maxSeconds + ' s)' : 'intake sheds over ' + b.maxSeconds + ' s');
  $('kpi-backlog').parentNode.classList.toggle('alert', b.shedding);
  setKpi('kpi-dead', fmtInt(dead));
  $('kpi-dead').parentNode.classList.toggle('alert', dead > 0);
}

function countCell(value, kind) {
  const td = el('td', { className: 'num', text: fmtInt(value) });
  if (!value) td.classList.add('zero');
  else if (kind) td.classList.add(kind);
  return td;
}

function renderQueues(queues) {
  replaceChildren(document.querySelector('#queues-table tbody'), queues.map((q) => {
    const c = q.counts;
    return el('tr', { className: q.deadLetter ? 'dead' : '', dataset: { queue: q.name } }, [
      el('td', null, [el('code', { text: q.name })]),
      countCell(c.created, q.deadLetter ? 'hot' : 'busy'),
      countCell(c.retry, 'hot'),
      countCell(c.active, 'busy'),
      countCell(c.failed, 'hot'),
      countCell(c.completed),
    ]);
  }));
}

function orderLink(orderId) {
  if (!orderId) return el('span', { className: 'muted', text: '–' });
  const link = el('button', { type: 'button', className: 'link mono', text: 'order ' + shortId(orderId), title: orderId });
  link.addEventListener('click', () => openTimeline(orderId));
  return link;
}

function renderFailedJobs(jobs) {
  const list = $('failed-jobs');
  if (!jobs.length) {
    replaceChildren(list, [el('li', { className: 'none', text: 'No failed or dead-lettered jobs.' })]);
    return;
  }
  replaceChildren(list, jobs.map((job) => {
    const when = job.finishedAt || job.createdAt;
    return el('li', null, [
      el('span', null, [el('code', { text: job.queue }), ' ', badge(job.state)]),
      orderLink(job.orderId),
      el('span', { className: 'muted', title: when, text: ago(when) + ' ago' }),
      job.error ? el('span', { className: 'err', title: job.error, text: job.error }) : null,
    ]);
  }));
}

function renderSyncs(syncs) {
  const list = $('syncs');
  if (!syncs.length) {
    replaceChildren(list, [el('li', { className: 'none', text: 'No inventory sync has run yet.' })]);
    return;
  }
  replaceChildren(list, syncs.map((s) => {
    let body = s.skusSeen + ' SKUs seen · ' + s.skusChanged + ' changed';
    if (s.skusUnknown) body += ' · ' + s.skusUnknown + ' unknown';
    if (s.skusMissing) body += ' · ' + s.skusMissing + ' missing';
    body += s.shortfallCount ? ' · ' + s.shortfallCount + ' shortfall' + (s.shortfallCount > 1 ? 's' : '') : ' · no shortfall';
    const item = el('li', { dataset: { syncId: String(s.id) } }, [
      el('div', { className: 'sync-head' }, [
        el('strong', { text: '#' + s.id }),
        badge(s.status),
        el('span', { className: 'muted', text: s.trigger }),
        el('span', { className: 'when', title: s.startedAt, text: ago(s.startedAt) + ' ago' }),
      ]),
      el('div', { className: 'sync-body', text: body }),
    ]);
    if (s.shortfalls.length) {
      item.appendChild(el('div', { className: 'shortfalls' }, s.shortfalls.map((f) =>
        el('span', { className: 'shortfall', title: 'warehouse ' + f.warehouse + ', reserved ' + f.reserved, text: f.sku + ' short ' + f.short }))));
    }
    if (s.error) item.appendChild(el('div', { className: 'sync-error', title: s.error, text: s.error }));
    return item;
  }));
}
