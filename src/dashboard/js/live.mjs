/* The top bar's indicator: green with the time of the last answer, amber with the last error.
 * It says "Live" while the event stream is open and "Polling" while the page falls back to polling. */
import { $, clock } from './dom.mjs';

let streaming = false;

export function markOk() {
  $('live').className = 'live ok';
  $('live-text').textContent = (streaming ? 'Live · ' : 'Polling · ') + clock(new Date().toISOString());
}

export function markStale(error) {
  $('live').className = 'live stale';
  $('live-text').textContent = 'Retrying · ' + (error && error.message ? error.message : 'no answer');
}

const FEED_TITLE = {
  connecting: 'Opening the live event stream',
  stream: 'Orders arrive over the live event stream',
  polling: 'The live event stream is down: polling every 2 s until it is back',
};

/** The event stream is `connecting`, open (`stream`) or down (`polling`, with why). */
export function markFeed(mode, error) {
  streaming = mode === 'stream';
  $('live').dataset.feed = mode;
  $('live').title = FEED_TITLE[mode] + (error && error.message ? ' (' + error.message + ')' : '');
}
