/* orderloop operations dashboard: native ES modules, no build step.
 * Signs in once with an admin client (POST /auth/token; the token lives in sessionStorage, so in
 * this tab only) and then keeps the panels up to date from the JSON API. The only writes besides
 * the demo controls and "Sync now" are an admin's refund of a completed order (POST /orders/:id/refund). */
/* global document, sessionStorage, fetch, setTimeout, clearTimeout */
import { api, onSessionEnded, session } from './api.mjs';
import { fillWarehouseSkus, initDemoControls, probeDemoControls } from './demo-controls.mjs';
import { $ } from './dom.mjs';
import { markStale } from './live.mjs';
import { initOrders, refreshOrders } from './orders.mjs';
import { initOverview, refreshOverview } from './overview.mjs';
import { refreshStock } from './stock.mjs';
import { closeTimeline, initTimeline, refreshTimeline } from './timeline.mjs';

const TOKEN_KEY = 'orderloop.dashboard.token';

// ---------------------------------------------------------------- timers
// Each start() begins a new run; a loop of an earlier run ends at its next tick, even if the page signed in again meanwhile.
let run = 0;
let timers = [];

/** Runs `task` now and then `ms` after each run ends (never two at once); skips while the tab is hidden. */
function every(ms, task) {
  const mine = run;
  const tick = () => {
    if (mine !== run) return;
    const done = document.hidden ? Promise.resolve() : Promise.resolve().then(task);
    done.catch((error) => {
      if (error && error.status !== 401) markStale(error);
    }).then(() => {
      if (mine === run) timers.push(setTimeout(tick, ms));
    });
  };
  tick();
}

function start() {
  stop();
  every(2000, refreshOrders);
  every(2000, refreshOverview);
  every(5000, () => refreshStock().then(fillWarehouseSkus));
  every(2000, refreshTimeline);
  probeDemoControls();
}

function stop() {
  run += 1;
  for (const timer of timers) clearTimeout(timer);
  timers = [];
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
initOrders();
initOverview();
initDemoControls();
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
