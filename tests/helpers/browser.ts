import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/** The system's Chromium (Debian's `chromium` package), driven by playwright-core. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

const profiles = new WeakMap<BrowserContext, string>();

/**
 * Headless Chromium with a profile of its own (closeChromium removes it). The browser tests need
 * it and do not skip: without it they fail with how to install it.
 */
export async function launchChromium(options: Pick<BrowserContextOptions, 'baseURL' | 'viewport'> = {}): Promise<BrowserContext> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}. The dashboard's browser tests need it and do not skip: ` +
        'install it with `apt-get update && apt-get install -y chromium` (or set CHROMIUM_PATH to a Chromium binary).',
    );
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderloop-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, ...options });
  profiles.set(context, userDataDir);
  return context;
}

/** Closes the browser, then removes its profile (Chromium writes to it until it has exited). */
export async function closeChromium(context: BrowserContext | undefined): Promise<void> {
  if (!context) return;
  await context.close();
  const userDataDir = profiles.get(context);
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
}

/** The context's first page, whose uncaught errors and console errors (but those `ignore` accepts) go to `errors`. */
export async function watchedPage(context: BrowserContext, errors: string[], ignore: (url: string) => boolean = () => false): Promise<Page> {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !ignore(message.location().url)) errors.push(`console: ${message.text()}`);
  });
  return page;
}
