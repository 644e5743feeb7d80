/* The top bar's indicator: green with the time of the last answer, amber with the last error. */
import { $, clock } from './dom.mjs';

export function markOk() {
  $('live').className = 'live ok';
  $('live-text').textContent = 'Live · ' + clock(new Date().toISOString());
}

export function markStale(error) {
  $('live').className = 'live stale';
  $('live-text').textContent = 'Retrying · ' + (error && error.message ? error.message : 'no answer');
}
