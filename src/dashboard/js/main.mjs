/* orderloop operations dashboard: native ES modules, no build step.
 * Signs in once with an admin client (POST /auth/token; the token lives in sessionStorage, so in
 * this tab only) and then keeps the panels up to date: the orders list from the live event stream
 * (GET /events; polled while it is down), the other panels by polling the JSON API. Its writes:
 * the demo controls, "Sync now", an admin's refund of a completed order (POST /orders/:id/refund)
 * and the Webhooks panel's (register an endpoint, retry a delivery, send a test ping, turn one off and on). */
/* global document, sessionStorage, fetch, setTimeout, clearTimeout */
import { api, onSessionEnded, session } from './api.mjs';
import { fillWarehouseSkus, initDemoControls, probeDemoControls } from './demo-controls.mjs';
import { $ } from './dom.mjs';
import { openFeed } from './feed.mjs';
import { markFeed, markStale } from './live.mjs';
import { initOrders, refreshOrders, showFeedMode, tickAges } from './orders.mjs';
import { initOverview, refreshOverview } from './overview.mjs';
import { refreshStock } from './stock.mjs';
import { closeTimeline, initTimeline, refreshTimeline, selectedOrderId } from './timeline.mjs';
import { initWebhooks, refreshWebhooks, webhooksBusy } from './webhooks.mjs';

const TOKEN_KEY = 'orderloop.dashboard.token';

// ---------------------------------------------------------------- timers and the live feed
// Each start() begins a new run; a loop of an earlier run ends at its next tick, even if the page signed in again meanwhile.
let run = 0;
const timers = new Set();
let feed = null;
let streaming = false;
// Reloads the orders and the overview after order events (made by start(); null while signed out).
let reloadOnEvents = null;
// Order events that arrived while the tab was hidden: reload once it shows again.
let missedWhileHidden = false;

function later(task, ms) {
  const timer = setTimeout(() => {
    timers.delete(timer);
    task();
  }, ms);
  timers.add(timer);
  return timer;
}

/** Runs `task` now and then `ms` (a number, or a function giving it) after each run ends (never two at once); skips while the tab is hidden. */
function every(ms, task) {
  const mine = run;
  const tick = () => {
    if (mine !== run) return;
    const done = document.hidden ? Promise.resolve() : Promise.resolve().then(task);
    done.catch((error) => {
      if (error && error.status !== 401) markStale(error);
    }).then(() => {
      if (mine === run) later(tick, typeof ms === 'function' ? ms() : ms);
    });
  };
  tick();
}

/** `task` at most once per `ms`, never two at once; a call while it runs runs it again afterwards (the run may have read too early). */
function throttled(ms, task) {
  let timer = null;
  let running = false;
  let again = false;
  let last = 0;
  const request = () => {
    if (running) {
      again = true;
      return;
    }
    if (timer) return;
    timer = later(async () => {
      timer = null;
      running = true;
      try {
        await task();
      } finally {
        running = false;
        last = Date.now();
        if (again) {
          again = false;
          request();
        }
      }
    }, Math.max(0, last + ms - Date.now()));
  };
  return request;
}

function orderEvent(type, payload) {
  if (document.hidden) missedWhileHidden = true;
  else reloadOnEvents();
  // The open drawer follows its order at once rather than at its next 2 s reload.
  if (type.startsWith('order.') && payload.data && payload.data.id === selectedOrderId()) refreshTimeline().catch(markStale);
}

/** `mode`: 'connecting', 'stream' (open) or 'polling' (dropped, with `error`). */
function feedChanged(mode, error) {
  streaming = mode === 'stream';
  markFeed(mode, error);
  showFeedMode(mode);
}

function start() {
  stop();
  const mine = run;
  feedChanged('connecting');
  reloadOnEvents = throttled(500, () => {
    if (mine !== run) return undefined;
    return Promise.all([refreshOrders(), refreshOverview()]).catch(markStale);
  });
  feed = openFeed({
    onUp() {
      feedChanged('stream');
      // Whatever happened while it was down.
      reloadOnEvents();
    },
    onEvent(type, payload) {
      // `gap`: the server lost track of some events; the lists are read afresh.
      if (type.startsWith('order.') || type === 'gap') orderEvent(type, payload);
    },
    onDown: (error) => feedChanged('polling', error),
  });
  // While the feed is down the orders list is polled as before; while it is up only its ages move.
  every(2000, () => (streaming ? tickAges() : refreshOrders()));
  // The queue figures and the payment provider change without order events: polled, less often while the feed is up.
  every(() => (streaming ? 5000 : 2000), refreshOverview);
  every(5000, () => refreshStock().then(fillWarehouseSkus));
  every(2000, refreshTimeline);
  // Deliveries are not events: polled, more often while one of the chosen endpoint's is on its way.
  every(() => (webhooksBusy() ? 2000 : 5000), refreshWebhooks);
  probeDemoControls();
}

function stop() {
  run += 1;
  for (const timer of timers) clearTimeout(timer);
  timers.clear();
  if (feed) feed.close();
  feed = null;
  streaming = false;
  reloadOnEvents = null;
}

// ---------------------------------------------------------------- sign-in
function showLogin(message) {
  $('app-view').hidden = true;
  $('session').hidden = true;
  $('login-view').hidden = false;
  closeTimeline();
  const error = $('login-error');
  error.hidden = !message;
  error.textContent = message || '';
  $('client-id').focus();
}

function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('session').hidden = false;
  $('who').textContent = session.clientId || '';
  start();
}

function signOut(message) {
  stop();
  session.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin(message);
}

async function signIn(clientId, secret) {
  const res = await fetch('/auth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error((body && body.error && body.error.message) || 'Sign-in failed (HTTP ' + res.status + ')');
  session.token = body.access_token;
  session.clientId = clientId;
  // An admin token is needed for /admin: check it before showing the dashboard.
  try {
    await api('/admin/overview');
  } catch (error) {
    session.token = null;
    throw new Error(error.status === 403 ? 'This client is not an admin client.' : error.message, { cause: error });
  }
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ token: session.token, clientId, expiresAt: Date.now() + body.expires_in * 1000 }));
  $('client-secret').value = '';
  showApp();
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const button = $('login-submit');
  button.disabled = true;
  $('login-error').hidden = true;
  signIn($('client-id').value.trim(), $('client-secret').value).catch((error) => {
    $('login-error').textContent = error.message;
    $('login-error').hidden = false;
  }).then(() => {
    button.disabled = false;
  });
});

$('logout').addEventListener('click', () => signOut());
onSessionEnded(() => signOut('Your session has ended: sign in again.'));

// ---------------------------------------------------------------- panels
document.addEventListener('visibilitychange', () => {
  if (document.hidden || !missedWhileHidden || !reloadOnEvents) return;
  missedWhileHidden = false;
  reloadOnEvents();
});
initOrders();
initOverview();
initDemoControls();
initWebhooks();
initTimeline({
  onOrderChanged() {
    refreshOverview().catch(markStale);
    refreshOrders().catch(markStale);
  },
});

// ---------------------------------------------------------------- boot
let saved;
try {
  saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || 'null');
} catch {
  saved = null;
}
if (saved && saved.token && saved.expiresAt > Date.now() + 5000) {
  session.token = saved.token;
  session.clientId = saved.clientId;
  showApp();
} else {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
}
