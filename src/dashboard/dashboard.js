/* orderloop operations dashboard: plain browser JavaScript, no build step.
 * Signs in once with an admin client (POST /auth/token; the token lives in sessionStorage, so in
 * this tab only) and then polls the JSON API: /orders, /admin/overview, /admin/stock. Every value
 * from the API is put into the page as text (textContent), never as HTML. The only write besides
 * the demo controls and "Sync now" is an admin's refund of a completed order (POST /orders/:id/refund). */
/* global document, sessionStorage, fetch, setTimeout, clearTimeout, URLSearchParams */
(function () {
  'use strict';

  var TOKEN_KEY = 'orderloop.dashboard.token';
  var ORDERS_SHOWN = 20;
  var TERMINAL = { completed: true, failed: true, cancelled: true, refunded: true };
  var SVG_NS = 'http://www.w3.org/2000/svg';

  var state = {
    token: null,
    clientId: null,
    status: '',
    selected: null,
    seen: {},
    lastOk: 0,
    timers: [],
    stopped: true,
    warehouseSkus: '',
    // Demo controls exist only where the mocks run in the service's own process; until the GET
    // that probes them answers, they are assumed absent (so nothing is asked of a missing route).
    mocks: { payments: false, warehouse: false },
    // The order whose refund this page asked for and still waits on (to say so once it is refunded).
    refundAsked: null,
  };

  // ---------------------------------------------------------------- helpers
  function $(id) { return document.getElementById(id); }

  /** el('td', {className: 'num', title: '…'}, ['text', childNode]) */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        if (key === 'dataset') Object.assign(node.dataset, props.dataset);
        else if (key === 'text') node.textContent = props.text;
        else node[key] = props[key];
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    });
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function replaceChildren(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    children.forEach(function (child) { node.appendChild(child); });
  }

  function fmtInt(n) { return Number(n || 0).toLocaleString('en-US'); }
  function money(cents, currency) { return (Number(cents) / 100).toFixed(2) + ' ' + currency; }
  function pct(x) { return Math.round(Number(x || 0) * 100) + '%'; }

  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d';
  }

  function clock(iso, withMs) {
    var d = new Date(iso);
    var pad = function (n, w) { return String(n).padStart(w || 2, '0'); };
    var text = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    return withMs ? text + '.' + pad(d.getMilliseconds(), 3) : text;
  }

  function shortId(id) { return id ? String(id).slice(0, 8) : ''; }

  function badge(status) { return el('span', { className: 'badge ' + status, text: status }); }

  // ---------------------------------------------------------------- API
  function ApiError(status, body) {
    this.status = status;
    this.body = body;
    this.message = (body && body.error && body.error.message) || 'HTTP ' + status;
  }

  function api(path, options) {
    options = options || {};
    var headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, {
      method: options.method || 'GET',
      headers: headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
    }).then(function (res) {
      return res.text().then(function (text) {
        var body;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (res.status === 401 && state.token) {
          signOut('Your session has ended: sign in again.');
        }
        if (!res.ok) throw new ApiError(res.status, body);
        return body;
      });
    });
  }

  // ---------------------------------------------------------------- sign-in
  function showLogin(message) {
    $('app-view').hidden = true;
    $('session').hidden = true;
    $('login-view').hidden = false;
    closeTimeline();
    var error = $('login-error');
    error.hidden = !message;
    error.textContent = message || '';
    $('client-id').focus();
  }

  function showApp() {
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('session').hidden = false;
    $('who').textContent = state.clientId || '';
    start();
  }

  function signOut(message) {
    stop();
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(message);
  }

  $('login-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var clientId = $('client-id').value.trim();
    var secret = $('client-secret').value;
    var button = $('login-submit');
    button.disabled = true;
    $('login-error').hidden = true;
    fetch('/auth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
    })
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) throw new Error((body && body.error && body.error.message) || 'Sign-in failed (HTTP ' + res.status + ')');
          return body;
        });
      })
      .then(function (body) {
        state.token = body.access_token;
        state.clientId = clientId;
        // An admin token is needed for /admin: check it before showing the dashboard.
        return api('/admin/overview').then(function () {
          sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ token: state.token, clientId: clientId, expiresAt: Date.now() + body.expires_in * 1000 }));
          $('client-secret').value = '';
          showApp();
        }, function (error) {
          state.token = null;
          throw new Error(error.status === 403 ? 'This client is not an admin client.' : error.message);
        });
      })
      .catch(function (error) {
        $('login-error').textContent = error.message;
        $('login-error').hidden = false;
      })
      .then(function () { button.disabled = false; });
  });

  $('logout').addEventListener('click', function () { signOut(); });

  // ---------------------------------------------------------------- polling
  /** Runs `task` now and then `ms` after each run ends (never two at once); skips while the tab is hidden. */
  function every(ms, task) {
    var handle = { timer: null };
    var tick = function () {
      if (state.stopped) return;
      var run = document.hidden ? Promise.resolve() : Promise.resolve().then(task);
      run.catch(function (error) { if (error && error.status !== 401) markStale(error); })
        .then(function () { if (!state.stopped) handle.timer = setTimeout(tick, ms); });
    };
    state.timers.push(handle);
    tick();
  }

  function start() {
    if (!state.stopped) return;
    state.stopped = false;
    every(2000, refreshOrders);
    every(2000, refreshOverview);
    every(5000, refreshStock);
    every(2000, refreshTimeline);
    probeDemoControls();
  }

  function stop() {
    state.stopped = true;
    state.timers.forEach(function (h) { clearTimeout(h.timer); });
    state.timers = [];
  }

  function markOk() {
    state.lastOk = Date.now();
    $('live').className = 'live ok';
    $('live-text').textContent = 'Live · ' + clock(new Date().toISOString());
  }

  function markStale(error) {
    $('live').className = 'live stale';
    $('live-text').textContent = 'Retrying · ' + (error && error.message ? error.message : 'no answer');
  }

  // ---------------------------------------------------------------- orders
  document.querySelectorAll('#status-filter button').forEach(function (button) {
    button.addEventListener('click', function () {
      state.status = button.dataset.status;
      document.querySelectorAll('#status-filter button').forEach(function (b) { b.classList.toggle('active', b === button); });
      refreshOrders().catch(markStale);
    });
  });

  function itemsText(items) {
    if (!items || !items.length) return '';
    var first = items[0].quantity + ' × ' + items[0].sku;
    return items.length > 1 ? first + ' +' + (items.length - 1) + ' more' : first;
  }

  function refreshOrders() {
    var query = new URLSearchParams({ limit: String(ORDERS_SHOWN) });
    if (state.status) query.set('status', state.status);
    var status = state.status;
    return api('/orders?' + query.toString()).then(function (body) {
      if (status !== state.status) return;
      markOk();
      var rows = body.orders.map(function (order) {
        var statusCell = el('td', null, [badge(order.status)]);
        if (order.failureReason) statusCell.appendChild(el('span', { className: 'reason', text: order.failureReason }));
        var tr = el('tr', { dataset: { orderId: order.id, status: order.status }, title: 'Open the timeline of ' + order.id }, [
          el('td', null, [el('code', { text: shortId(order.id) })]),
          el('td', { className: 'ellipsis', text: order.customerId }),
          el('td', { className: 'ellipsis', text: itemsText(order.items) }),
          el('td', { className: 'num', text: money(order.totalCents, order.currency) }),
          statusCell,
          el('td', { className: 'num', text: String(order.paymentAttempts || 0) }),
          el('td', { className: 'num', title: order.createdAt, text: ago(order.createdAt) }),
        ]);
        var key = order.id + ':' + order.status;
        if (state.lastOrdersLoaded && !state.seen[key]) tr.classList.add('fresh');
        state.seen[key] = true;
        if (order.id === state.selected) tr.classList.add('selected');
        tr.addEventListener('click', function () { openTimeline(order.id); });
        return tr;
      });
      state.lastOrdersLoaded = true;
      replaceChildren(document.querySelector('#orders-table tbody'), rows);
      $('orders-empty').hidden = rows.length > 0;
      $('orders-empty').textContent = state.status ? 'No ' + state.status + ' orders.' : 'No orders yet.';
    });
  }

  // ---------------------------------------------------------------- overview: KPIs, chart, queues, jobs, syncs
  function refreshOverview() {
    return api('/admin/overview').then(function (o) {
      markOk();
      renderKpis(o);
      renderChart(o.orders);
      renderQueues(o.queues);
      renderFailedJobs(o.failedJobs);
      renderSyncs(o.syncs);
      renderProvider(o.payments);
    });
  }

  function setKpi(id, value, note) {
    $(id).textContent = value;
    if (note !== undefined && $(id + '-note')) $(id + '-note').textContent = note;
  }

  function renderKpis(o) {
    var h = o.orders.lastHour;
    setKpi('kpi-created', fmtInt(h.created));
    setKpi('kpi-completed', fmtInt(h.completed));
    // A refunded order went through (it was charged and completed before its refund): it counts as ok.
    var refunded = h.refunded || 0;
    var settled = h.completed + refunded + h.failed;
    $('kpi-completed-rate').textContent = settled ? pct((h.completed + refunded) / settled) + ' ok' + (refunded ? ' · ' + fmtInt(refunded) + ' refunded' : '') : '';
    setKpi('kpi-failed', fmtInt(h.failed));
    var flight = o.orders.inFlight;
    setKpi('kpi-inflight', fmtInt(flight.pending + flight.reserved), flight.pending + ' pending · ' + flight.reserved + ' reserved');
    var waiting = 0;
    var retry = 0;
    var dead = 0;
    o.queues.forEach(function (q) {
      if (q.deadLetter) dead += q.counts.created + q.counts.active + q.counts.retry;
      else {
        waiting += q.counts.created;
        retry += q.counts.retry;
      }
    });
    setKpi('kpi-waiting', fmtInt(waiting), retry ? retry + ' in retry' : 'none in retry');
    var b = o.backlog;
    setKpi('kpi-backlog', b.oldestSeconds + ' s', b.shedding ? 'intake refusing orders (over ' + b.maxSeconds + ' s)' : 'intake sheds over ' + b.maxSeconds + ' s');
    $('kpi-backlog').parentNode.classList.toggle('alert', b.shedding);
    setKpi('kpi-dead', fmtInt(dead));
    $('kpi-dead').parentNode.classList.toggle('alert', dead > 0);
  }

  var SERIES = [
    { key: 'completed', label: 'Completed' },
    { key: 'refunded', label: 'Refunded' },
    { key: 'failed', label: 'Failed' },
    { key: 'cancelled', label: 'Cancelled' },
    { key: 'open', label: 'In flight' },
  ];

  function niceMax(n) {
    if (n <= 4) return 4;
    var magnitude = Math.pow(10, Math.floor(Math.log10(n)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i += 1) if (steps[i] * magnitude >= n) return steps[i] * magnitude;
    return 10 * magnitude;
  }

  function renderChart(orders) {
    var buckets = orders.perMinute;
    // Drawn at the container's pixel size (not scaled), so text and bars stay crisp at any width.
    var width = Math.max(320, $('chart').clientWidth || 600);
    var height = $('chart').clientHeight || 168;
    var left = 34;
    var right = 6;
    var top = 8;
    var bottom = 22;
    var plotW = width - left - right;
    var plotH = height - top - bottom;
    var max = niceMax(Math.max.apply(null, buckets.map(function (b) {
      return SERIES.reduce(function (sum, s) { return sum + (b[s.key] || 0); }, 0);
    }).concat([0])));
    var root = svg('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'Orders per minute over the last hour, by outcome' });

    [0, 0.5, 1].forEach(function (f) {
      var y = top + plotH - f * plotH;
      root.appendChild(svg('line', { class: 'grid-line', x1: left, x2: width - right, y1: y, y2: y }));
      root.appendChild(svg('text', { class: 'axis-label', x: left - 6, y: y + 3.5, 'text-anchor': 'end' }, fmtInt(Math.round(max * f))));
    });

    var slot = plotW / buckets.length;
    var barW = Math.max(1, slot - 2);
    buckets.forEach(function (bucket, i) {
      var x = left + i * slot + 1;
      var y = top + plotH;
      var total = 0;
      SERIES.forEach(function (series) {
        var value = bucket[series.key];
        if (!value) return;
        total += value;
        var h = (value / max) * plotH;
        y -= h;
        root.appendChild(svg('rect', { class: 'bar-' + series.key, x: x.toFixed(2), y: y.toFixed(2), width: barW.toFixed(2), height: Math.max(h, 0.5).toFixed(2) }));
      });
      var hit = svg('rect', { x: (left + i * slot).toFixed(2), y: top, width: slot.toFixed(2), height: plotH, fill: 'transparent' });
      hit.appendChild(svg('title', {}, clock(bucket.minute).slice(0, 5) + ' · ' + total + ' orders: ' +
        SERIES.map(function (s) { return (bucket[s.key] || 0) + ' ' + s.label.toLowerCase(); }).join(', ')));
      root.appendChild(hit);
      if (i % 10 === 0 || i === buckets.length - 1) {
        var label = i === buckets.length - 1 ? 'now' : clock(bucket.minute).slice(0, 5);
        root.appendChild(svg('text', { class: 'axis-label', x: (left + i * slot + slot / 2).toFixed(2), y: height - 6, 'text-anchor': i === buckets.length - 1 ? 'end' : 'middle' }, label));
      }
    });
    replaceChildren($('chart'), [root]);

    var colors = { completed: 'var(--ok)', refunded: 'var(--refund)', failed: 'var(--bad)', cancelled: '#a2aab7', open: '#6d8ff0' };
    replaceChildren($('chart-legend'), SERIES.map(function (s) {
      var swatch = el('span', { className: 'swatch' });
      swatch.style.background = colors[s.key];
      return el('span', { dataset: { series: s.key } }, [swatch, s.label, el('strong', { text: fmtInt(orders.lastHour[s.key]) })]);
    }));
  }

  // ---------------------------------------------------------------- payment provider: circuit breaker, refunds
  var CIRCUIT_TEXT = { closed: 'closed', half_open: 'half-open', open: 'open' };

  function circuitBadge(circuitState) {
    return el('span', { className: 'badge circuit-' + circuitState, text: CIRCUIT_TEXT[circuitState] || circuitState });
  }

  /** "14:02:11 (in 4 s)", or "(due)" once the time has passed and the probe has not been reported yet. */
  function probeText(iso) {
    var s = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
    return clock(iso) + (s > 0 ? ' (in ' + s + ' s)' : ' (due)');
  }

  function renderProvider(payments) {
    var card = $('provider-card');
    if (!payments || !payments.circuit) {
      card.hidden = true;
      return;
    }
    card.hidden = false;
    var c = payments.circuit;
    var settings = c.settings || {};
    var enabled = settings.enabled !== false;
    var processes = c.processes || [];
    var circuitState = enabled ? c.state : 'off';
    card.dataset.circuit = circuitState;
    var head = $('circuit-state');
    head.className = 'badge circuit-' + circuitState;
    head.textContent = enabled ? 'circuit ' + (CIRCUIT_TEXT[circuitState] || circuitState) : 'no circuit breaker';

    var line = [];
    var open = processes.filter(function (p) { return p.state === 'open'; });
    var where = processes.length > 1 && c.state !== 'closed'
      ? ' (' + processes.filter(function (p) { return p.state === c.state; }).length + ' of ' + processes.length + ' worker processes)'
      : '';
    if (!enabled) {
      line.push('Every charge and refund calls the provider, whatever its state (PAYMENT_CIRCUIT_ENABLED is off).');
    } else if (c.state === 'open') {
      line.push(el('strong', { text: 'Open' + where + ': ' }), 'charges and refunds wait, no call reaches the provider.');
      var next = open.map(function (p) { return p.nextProbeAt; }).filter(Boolean).sort()[0];
      if (next) line.push(' Next probe at ', el('span', { id: 'circuit-next-probe', className: 'mono', title: next, text: probeText(next) }), '.');
    } else if (c.state === 'half_open') {
      line.push(el('strong', { text: 'Half-open' + where + ': ' }), 'one call probes the provider; its answer closes the circuit or opens it again.');
    } else {
      line.push('Closed: calls go through.');
      // A process reports its circuit at its first change of state: none listed means none has tripped.
      if (!processes.length) line.push(' No worker\'s circuit has opened lately.');
    }
    replaceChildren($('circuit-line'), line.map(function (part) { return typeof part === 'string' ? document.createTextNode(part) : part; }));

    // One row per worker process, only when there is more than one (one process is the card's own state).
    var table = $('circuit-processes');
    table.hidden = processes.length < 2;
    replaceChildren(table.querySelector('tbody'), processes.length < 2 ? [] : processes.map(function (p) {
      return el('tr', { dataset: { process: p.process, state: p.state } }, [
        el('td', { className: 'ellipsis', title: p.process }, [el('code', { text: p.process })]),
        el('td', null, [circuitBadge(p.state)]),
        el('td', { className: 'num', title: p.changedAt, text: ago(p.changedAt) }),
        el('td', { className: 'num', title: p.nextProbeAt || '', text: p.nextProbeAt ? clock(p.nextProbeAt) : '–' }),
      ]);
    }));

    var refunds = payments.refunds || {};
    $('refunds-requested').textContent = fmtInt(refunds.requested);
    $('refunds-succeeded').textContent = fmtInt(refunds.succeeded);
    $('refunds-failed').textContent = fmtInt(refunds.failed);
    $('refunds-failed-box').classList.toggle('alert', Number(refunds.failed) > 0);

    $('circuit-settings').textContent = enabled
      ? 'Opens when over ' + settings.errorThresholdPercent + '% of at least ' + settings.volumeThreshold + ' calls in ' + settings.windowSeconds +
        ' s fail · probes after ' + settings.resetSeconds + ' s'
      : '';
  }

  function countCell(value, kind) {
    var td = el('td', { className: 'num', text: fmtInt(value) });
    if (!value) td.classList.add('zero');
    else if (kind) td.classList.add(kind);
    return td;
  }

  function renderQueues(queues) {
    replaceChildren(document.querySelector('#queues-table tbody'), queues.map(function (q) {
      var c = q.counts;
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
    var link = el('button', { type: 'button', className: 'link mono', text: 'order ' + shortId(orderId), title: orderId });
    link.addEventListener('click', function () { openTimeline(orderId); });
    return link;
  }

  function renderFailedJobs(jobs) {
    var list = $('failed-jobs');
    if (!jobs.length) {
      replaceChildren(list, [el('li', { className: 'none', text: 'No failed or dead-lettered jobs.' })]);
      return;
    }
    replaceChildren(list, jobs.map(function (job) {
      var when = job.finishedAt || job.createdAt;
      return el('li', null, [
        el('span', null, [el('code', { text: job.queue }), ' ', badge(job.state)]),
        orderLink(job.orderId),
        el('span', { className: 'muted', title: when, text: ago(when) + ' ago' }),
        job.error ? el('span', { className: 'err', title: job.error, text: job.error }) : null,
      ]);
    }));
  }

  function renderSyncs(syncs) {
    var list = $('syncs');
    if (!syncs.length) {
      replaceChildren(list, [el('li', { className: 'none', text: 'No inventory sync has run yet.' })]);
      return;
    }
    replaceChildren(list, syncs.map(function (s) {
      var body = s.skusSeen + ' SKUs seen · ' + s.skusChanged + ' changed';
      if (s.skusUnknown) body += ' · ' + s.skusUnknown + ' unknown';
      if (s.skusMissing) body += ' · ' + s.skusMissing + ' missing';
      var item = el('li', { dataset: { syncId: String(s.id) } }, [
        el('div', { className: 'sync-head' }, [
          el('strong', { text: '#' + s.id }),
          badge(s.status),
          el('span', { className: 'muted', text: s.trigger }),
          el('span', { className: 'when', title: s.startedAt, text: ago(s.startedAt) + ' ago' }),
        ]),
        el('div', { className: 'sync-body', text: body + (s.shortfallCount ? ' · ' + s.shortfallCount + ' shortfall' + (s.shortfallCount > 1 ? 's' : '') : ' · no shortfall') }),
      ]);
      if (s.shortfalls.length) {
        item.appendChild(el('div', { className: 'shortfalls' }, s.shortfalls.map(function (f) {
          return el('span', { className: 'shortfall', title: 'warehouse ' + f.warehouse + ', reserved ' + f.reserved, text: f.sku + ' short ' + f.short });
        })));
      }
      if (s.error) item.appendChild(el('div', { className: 'sync-error', title: s.error, text: s.error }));
      return item;
    }));
  }

  $('sync-now').addEventListener('click', function () {
    var note = $('sync-message');
    note.className = 'form-note';
    api('/inventory/sync', { method: 'POST' }).then(function (body) {
      note.textContent = body.alreadyQueued ? 'A sync is already queued (job ' + shortId(body.jobId) + ').' : 'Sync queued (job ' + shortId(body.jobId) + ').';
      refreshOverview().catch(markStale);
    }, function (error) {
      note.className = 'form-note error';
      note.textContent = error.message;
    });
  });

  // ---------------------------------------------------------------- stock
  function refreshStock() {
    return api('/admin/stock?limit=200').then(function (body) {
      setKpi('kpi-low', fmtInt(body.low), 'of ' + fmtInt(body.total) + ' products');
      $('stock-note').textContent = body.low ? body.low + ' low of ' + body.total : body.total + ' products, none low';
      replaceChildren(document.querySelector('#stock-table tbody'), body.products.map(function (p) {
        var out = p.available <= 0;
        var skuCell = el('td', null, [el('code', { text: p.sku })]);
        if (p.low) skuCell.appendChild(el('span', { className: 'tag ' + (out ? 'out' : 'low'), text: out ? 'OUT' : 'LOW' }));
        return el('tr', { className: p.low ? (out ? 'out' : 'low') : '', dataset: { sku: p.sku } }, [
          skuCell,
          el('td', { className: 'ellipsis', title: p.name, text: p.name }),
          el('td', { className: 'num avail', title: 'low at ' + p.lowStockThreshold + ' or fewer', text: fmtInt(p.available) }),
          el('td', { className: 'num', text: fmtInt(p.reserved) }),
          el('td', { className: 'num', text: fmtInt(p.onHand) }),
        ]);
      }));
      fillWarehouseSkus(body.products);
    });
  }

  function fillWarehouseSkus(products) {
    var skus = products.map(function (p) { return p.sku; }).sort();
    var key = skus.join('\n');
    if (key === state.warehouseSkus) return;
    state.warehouseSkus = key;
    var select = $('wh-sku');
    var current = select.value;
    replaceChildren(select, skus.map(function (sku) { return el('option', { value: sku, text: sku }); }));
    if (current && skus.indexOf(current) >= 0) select.value = current;
    loadWarehouseLevel();
  }

  // ---------------------------------------------------------------- demo controls
  function showNote(id, text, isError) {
    var note = $(id);
    note.className = 'form-note' + (isError ? ' error' : '');
    note.textContent = text;
  }

  function paymentInputs(config) {
    $('pay-failure').value = Math.round(config.failureRate * 100);
    $('pay-decline').value = Math.round(config.declineRate * 100);
    $('pay-latency').value = config.latencyMs;
    $('pay-down').checked = Boolean(config.down);
    syncSliderOutputs();
  }

  function syncSliderOutputs() {
    $('pay-failure-out').textContent = $('pay-failure').value + '%';
    $('pay-decline-out').textContent = $('pay-decline').value + '%';
  }
  $('pay-failure').addEventListener('input', syncSliderOutputs);
  $('pay-decline').addEventListener('input', syncSliderOutputs);

  /** Shows each demo control whose route answers; a 404 means that mock does not run in the service's process. */
  function probeDemoControls() {
    showDemoControls();
    api('/admin/mocks/payments/config').then(function (body) {
      state.mocks.payments = true;
      showDemoControls();
      showPaymentConfig(body);
    }, function (error) {
      if (error.status === 404) return;
      state.mocks.payments = true;
      showDemoControls();
      showNote('payments-message', error.message, true);
    });
    api('/admin/mocks/warehouse').then(function () {
      state.mocks.warehouse = true;
      showDemoControls();
      loadWarehouseLevel();
    }, function (error) {
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

  function showPaymentConfig(body) {
    $('payments-url').textContent = body.url || '';
    paymentInputs(body.config);
    showNote('payments-message', '');
  }

  $('payments-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var change = {
      failureRate: Number($('pay-failure').value) / 100,
      declineRate: Number($('pay-decline').value) / 100,
      latencyMs: Number($('pay-latency').value) || 0,
      down: $('pay-down').checked,
    };
    api('/admin/mocks/payments/config', { method: 'PUT', body: change }).then(function (body) {
      paymentInputs(body.config);
      showNote('payments-message', 'Applied: failures ' + pct(body.config.failureRate) + ', declines ' + pct(body.config.declineRate) +
        ', latency ' + body.config.latencyMs + ' ms' + (body.config.down ? ', provider DOWN' : '') + '.');
    }, function (error) {
      showNote('payments-message', error.message, true);
    });
  });

  // A level that arrives after the user typed a quantity or sent one must not overwrite either,
  // nor one that arrives while the field has focus (it would land between a select-all and the typing).
  var warehouseEdits = 0;
  $('wh-qty').addEventListener('input', function () { warehouseEdits += 1; });

  function loadWarehouseLevel() {
    var sku = $('wh-sku').value;
    if (!sku || !state.mocks.warehouse) return;
    var edits = warehouseEdits;
    api('/admin/mocks/warehouse/stock/' + encodeURIComponent(sku)).then(function (level) {
      if ($('wh-sku').value === sku && edits === warehouseEdits && document.activeElement !== $('wh-qty')) {
        $('wh-qty').value = level.quantity;
        showNote('warehouse-message', 'The warehouse holds ' + level.quantity + ' of ' + sku + '.');
      }
    }, function (error) {
      if (edits !== warehouseEdits || document.activeElement === $('wh-qty')) return;
      $('wh-qty').value = '';
      showNote('warehouse-message', error.status === 404 ? 'The warehouse does not know ' + sku + ' yet: set a level to add it.' : error.message, error.status !== 404);
    });
  }
  $('wh-sku').addEventListener('change', loadWarehouseLevel);

  $('warehouse-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var sku = $('wh-sku').value;
    var quantity = Number($('wh-qty').value);
    if (!sku || !Number.isInteger(quantity) || quantity < 0) {
      showNote('warehouse-message', 'Choose a SKU and a whole quantity of 0 or more.', true);
      return;
    }
    warehouseEdits += 1;
    api('/admin/mocks/warehouse/stock/' + encodeURIComponent(sku), { method: 'PUT', body: { quantity: quantity } }).then(function (level) {
      showNote('warehouse-message', 'The warehouse now holds ' + level.quantity + ' of ' + sku + '; the next sync applies it (or press Sync now).');
    }, function (error) {
      showNote('warehouse-message', error.message, true);
    });
  });

  // ---------------------------------------------------------------- timeline drawer
  function eventTone(event) {
    if (/COMPLETED|SUCCEEDED|COMMITTED/.test(event)) return 'ok';
    if (/FAILED|DECLINED|EXHAUSTED|EXPIRED|OUT_OF_STOCK/.test(event)) return 'bad';
    if (/LOW_STOCK|RELEASED|CANCELLED|DEFERRED/.test(event)) return 'warn';
    if (/REFUND|RESTOCKED/.test(event)) return 'refund';
    return 'info';
  }

  function openTimeline(orderId) {
    state.selected = orderId;
    $('timeline').hidden = false;
    $('scrim').hidden = false;
    $('timeline-id').textContent = orderId;
    $('timeline-title').textContent = 'Order';
    replaceChildren($('timeline-facts'), []);
    $('timeline-refunds').hidden = true;
    replaceChildren($('refund-list'), []);
    $('refund-form').hidden = true;
    $('refund-restock').checked = true;
    $('refund-submit').disabled = false;
    refundNote('');
    state.refundAsked = null;
    replaceChildren($('timeline-events'), [el('li', { className: 'muted', text: 'Loading…' })]);
    document.querySelectorAll('#orders-table tbody tr').forEach(function (tr) { tr.classList.toggle('selected', tr.dataset.orderId === orderId); });
    loadTimeline(orderId).catch(function (error) {
      replaceChildren($('timeline-events'), [el('li', { className: 'muted', text: 'Could not load the order: ' + error.message })]);
    });
  }

  function closeTimeline() {
    state.selected = null;
    state.selectedTerminal = false;
    $('timeline').hidden = true;
    $('scrim').hidden = true;
    document.querySelectorAll('#orders-table tbody tr.selected').forEach(function (tr) { tr.classList.remove('selected'); });
  }
  $('timeline-close').addEventListener('click', closeTimeline);
  $('scrim').addEventListener('click', closeTimeline);
  document.addEventListener('keydown', function (event) { if (event.key === 'Escape') closeTimeline(); });

  function refreshTimeline() {
    // Only while a non-terminal order (or one with a refund on its way) is open: its story is still being written.
    if (!state.selected || state.selectedTerminal) return Promise.resolve();
    return loadTimeline(state.selected);
  }

  function fact(label, value) {
    return [el('dt', { text: label }), el('dd', null, [value])];
  }

  function loadTimeline(orderId) {
    return api('/orders/' + encodeURIComponent(orderId)).then(function (body) {
      if (state.selected !== orderId) return;
      var order = body.order;
      var refunds = order.refunds || [];
      // A refund on its way, or one already paid out while the order still reads `completed`: GET /orders/:id
      // reads the order and then its refunds in separate queries, so an answer can land between the two.
      // Either way the story is still being written: keep reading it.
      var refundPending = refunds.some(function (r) {
        return r.status === 'requested' || (r.status === 'succeeded' && r.reason === 'requested' && order.status !== 'refunded');
      });
      state.selectedTerminal = Boolean(TERMINAL[order.status]) && !refundPending;
      var title = $('timeline-title');
      replaceChildren(title, [document.createTextNode('Order ' + shortId(order.id)), badge(order.status)]);
      var items = order.items.map(function (i) { return i.quantity + ' × ' + i.sku + ' (' + i.name + ')'; }).join(', ');
      var facts = []
        .concat(fact('Customer', order.customerId))
        .concat(fact('Total', money(order.totalCents, order.currency)))
        .concat(fact('Items', items))
        .concat(fact('Payment attempts', String(order.paymentAttempts)))
        .concat(fact('Created', new Date(order.createdAt).toLocaleString() + ' (' + ago(order.createdAt) + ' ago)'));
      if (order.failureReason) facts = facts.concat(fact('Failure reason', order.failureReason));
      replaceChildren($('timeline-facts'), facts);
      renderRefunds(refunds);
      if (state.refundAsked === orderId && order.status === 'refunded') {
        state.refundAsked = null;
        refundNote('Refunded: the provider confirmed the refund.');
      }
      // A completed order can be refunded, unless its refund is already on its way (asking again would change nothing).
      $('refund-form').hidden = order.status !== 'completed' || refundPending;
      $('refund-submit').textContent = 'Refund ' + money(order.totalCents, order.currency);

      replaceChildren($('timeline-events'), order.timeline.map(function (e) {
        var meta = [];
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
    });
  }

  // ---------------------------------------------------------------- refunds (in the drawer)
  var REFUND_REASON_TEXT = { requested: 'asked for by an admin', late_charge: 'a charge that landed after the order closed' };

  function renderRefunds(refunds) {
    $('timeline-refunds').hidden = !refunds.length;
    replaceChildren($('refund-list'), refunds.map(function (r) {
      var body = [r.refundId ? el('code', { className: 'refund-id', text: r.refundId }) : el('span', { className: 'muted', text: 'not paid out yet' })];
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

  function refundNote(text, isError) {
    var note = $('refund-message');
    note.hidden = !text;
    note.className = 'form-note refund-note' + (isError ? ' error' : '');
    note.textContent = text;
  }

  $('refund-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var orderId = state.selected;
    if (!orderId) return;
    var button = $('refund-submit');
    button.disabled = true;
    refundNote('Asking for the refund…');
    var body = $('refund-restock').checked ? {} : { restock: false };
    api('/orders/' + encodeURIComponent(orderId) + '/refund', { method: 'POST', body: body }).then(function (answer) {
      if (state.selected !== orderId) return undefined;
      var already = answer.order.status === 'refunded';
      state.refundAsked = already ? null : orderId;
      refundNote(already ? 'This order is already refunded.' : 'Refund requested: the order becomes refunded when the provider confirms it.');
      refreshOverview().catch(markStale);
      refreshOrders().catch(markStale);
      return loadTimeline(orderId).catch(function (error) {
        refundNote('Refund requested, but the order could not be reloaded: ' + error.message, true);
      });
    }, function (error) {
      if (state.selected === orderId) refundNote(error.message, true);
    }).then(function () { button.disabled = false; });
  });

  // ---------------------------------------------------------------- boot
  (function boot() {
    var saved;
    try { saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || 'null'); } catch (e) { saved = null; }
    if (saved && saved.token && saved.expiresAt > Date.now() + 5000) {
      state.token = saved.token;
      state.clientId = saved.clientId;
      showApp();
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin();
    }
  })();
})();
