/* "Orders per minute": a stacked bar per minute of the last hour, by outcome, drawn as SVG. */
import { $, clock, el, fmtInt, replaceChildren, svg } from './dom.mjs';

const SERIES = [
  { key: 'completed', label: 'Completed' },
  { key: 'refunded', label: 'Refunded' },
  { key: 'failed', label: 'Failed' },
  { key: 'cancelled', label: 'Cancelled' },
  { key: 'open', label: 'In flight' },
];

const COLORS = { completed: 'var(--ok)', refunded: 'var(--refund)', failed: 'var(--bad)', cancelled: '#a2aab7', open: '#6d8ff0' };

function niceMax(n) {
  if (n <= 4) return 4;
  const magnitude = Math.pow(10, Math.floor(Math.log10(n)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}

export function renderChart(orders) {
  const buckets = orders.perMinute;
  // Drawn at the container's pixel size (not scaled), so text and bars stay crisp at any width.
  const width = Math.max(320, $('chart').clientWidth || 600);
  const height = $('chart').clientHeight || 168;
  const left = 34;
  const right = 6;
  const top = 8;
  const bottom = 22;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const totals = buckets.map((b) => SERIES.reduce((sum, s) => sum + (b[s.key] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const root = svg('svg', { width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'Orders per minute over the last hour, by outcome' });

  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH;
    root.appendChild(svg('line', { class: 'grid-line', x1: left, x2: width - right, y1: y, y2: y }));
    root.appendChild(svg('text', { class: 'axis-label', x: left - 6, y: y + 3.5, 'text-anchor': 'end' }, fmtInt(Math.round(max * f))));
  }

  const slot = plotW / buckets.length;
  const barW = Math.max(1, slot - 2);
  buckets.forEach((bucket, i) => {
    const x = left + i * slot + 1;
    let y = top + plotH;
    for (const series of SERIES) {
      const value = bucket[series.key];
      if (!value) continue;
      const h = (value / max) * plotH;
      y -= h;
      root.appendChild(svg('rect', { class: 'bar-' + series.key, x: x.toFixed(2), y: y.toFixed(2), width: barW.toFixed(2), height: Math.max(h, 0.5).toFixed(2) }));
    }
    const hit = svg('rect', { x: (left + i * slot).toFixed(2), y: top, width: slot.toFixed(2), height: plotH, fill: 'transparent' });
    hit.appendChild(svg('title', {}, clock(bucket.minute).slice(0, 5) + ' · ' + totals[i] + ' orders: ' +
      SERIES.map((s) => (bucket[s.key] || 0) + ' ' + s.label.toLowerCase()).join(', ')));
    root.appendChild(hit);
    const last = i === buckets.length - 1;
    if (i % 10 === 0 || last) {
      root.appendChild(svg('text', { class: 'axis-label', x: (left + i * slot + slot / 2).toFixed(2), y: height - 6, 'text-anchor': last ? 'end' : 'middle' },
        last ? 'now' : clock(bucket.minute).slice(0, 5)));
    }
  });
  replaceChildren($('chart'), [root]);

  replaceChildren($('chart-legend'), SERIES.map((s) => {
    const swatch = el('span', { className: 'swatch' });
    swatch.style.background = COLORS[s.key];
    return el('span', { dataset: { series: s.key } }, [swatch, s.label, el('strong', { text: fmtInt(orders.lastHour[s.key]) })]);
  }));
}
