// Shared by the browser tests: the server (given, started from the binary, or the mock), the
// browser, screenshots and small waiting helpers.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..', '..', '..');
export const DATA = path.join(REPO, 'tests', 'data');
export const SHARED = path.resolve(REPO, '..', 'shared', 'captures');

export const SHOTS = path.resolve(process.env.WIRESIFT_UI_SHOTS || path.join(REPO, 'target', 'ui-shots'));

export const CHROMIUM = process.env.WIRESIFT_CHROMIUM || '/usr/bin/chromium';
/** Why the browser tests cannot run here, or null. */
export const NO_BROWSER = fs.existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set WIRESIFT_CHROMIUM)`;
const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The wiresift binary: $WIRESIFT_BIN, else target/{debug,release}/wiresift (the newest). */
export function findBinary() {
  if (process.env.WIRESIFT_BIN) return process.env.WIRESIFT_BIN;
  const dirs = [process.env.CARGO_TARGET_DIR, path.join(REPO, 'target')].filter(Boolean);
  const found = [];
  for (const d of dirs) {
    for (const p of ['debug', 'release']) {
      const f = path.join(/** @type {string} */ (d), p, 'wiresift');
      if (fs.existsSync(f)) found.push({ f, t: fs.statSync(f).mtimeMs });
    }
  }
  found.sort((a, b) => b.t - a.t);
  return found[0]?.f ?? null;
}

/**
 * Starts `wiresift ui` and reads its URL from stdout. Resolves to {url, stop}.
 * @param {string} bin
 * @param {string[]} files
 * @param {{root?: string}} [opts]
 */
export async function startServer(bin, files, opts = {}) {
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'wiresift-ui-test-'));
  const child = spawn(bin, ['ui', '--listen', '127.0.0.1:0', '--root', opts.root ?? DATA, ...files], {
    cwd: REPO,
    env: { ...process.env, XDG_CONFIG_HOME: config, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20000) stderr = stderr.slice(-20000);
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wiresift ui printed no URL in 60 s; stderr: ${stderr}`)), 60_000);
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const m = /wiresift ui: (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wiresift ui exited (${code}) before printing its URL; stderr: ${stderr}`));
    });
  });
  child.stdout.resume();
  return {
    url,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode == null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            r(null);
          }, 5000);
          child.on('exit', () => {
            clearTimeout(t);
            r(null);
          });
        });
      }
      fs.rmSync(config, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  /** Anything the page says that looks like a problem, for the assertions. */
  const problems = /** @type {string[]} */ ([]);
  const dialogs = /** @type {string[]} */ ([]);
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return { browser, context, page, problems, dialogs };
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * The current session's status is done (indexing finished).
 * @param {import('playwright-core').Page} page
 */
export async function waitIndexed(page, timeout = 60_000) {
  await page.waitForFunction(() => {
    const app = /** @type {any} */ (window).wiresift;
    return app?.current?.status?.done === true && app.list.total > 0;
  }, null, { timeout });
}

/**
 * Text of the status bar's counts.
 * @param {import('playwright-core').Page} page
 */
export async function counts(page) {
  return (await page.locator('#sb-counts').textContent()) ?? '';
}

/**
 * Opens a menu item by path, e.g. ['Statistics', 'Conversations'].
 * @param {import('playwright-core').Page} page
 * @param {string[]} labels
 */
export async function menu(page, labels) {
  await page.click(`.menubar-item[data-menu="${labels[0]}"]`);
  for (let i = 1; i < labels.length; i++) {
    const item = page.locator('.menu').last().locator('.menu-item', { has: page.locator('.menu-label', { hasText: new RegExp(`^${escapeRe(labels[i])}$`) }) });
    if (i < labels.length - 1) {
      await item.hover();
      await page.waitForTimeout(50);
    } else {
      await item.click();
    }
  }
}

/** @param {string} s */
export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * An API call from the page's context (same cookie).
 * @param {import('playwright-core').Page} page
 * @param {string} url
 * @param {{method?: string, json?: any}} [opts]
 */
export async function apiJson(page, url, opts = {}) {
  return page.evaluate(async ({ url, opts }) => {
    const r = await fetch(url, { method: opts.method ?? 'GET', credentials: 'same-origin', headers: opts.json ? { 'Content-Type': 'application/json' } : {}, body: opts.json ? JSON.stringify(opts.json) : undefined });
    const text = await r.text();
    try {
      return JSON.parse(text);
    } catch {
      return { status: r.status, text };
    }
  }, { url, opts });
}

/**
 * Raw bytes of an API URL, fetched by the page.
 * @param {import('playwright-core').Page} page
 * @param {string} url
 */
export async function apiBytes(page, url) {
  const b64 = await page.evaluate(async (url) => {
    const r = await fetch(url, { credentials: 'same-origin' });
    const b = new Uint8Array(await r.arrayBuffer());
    let s = '';
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
    return btoa(s);
  }, url);
  return Buffer.from(b64, 'base64');
}

/**
 * The current session id.
 * @param {import('playwright-core').Page} page
 */
export async function sessionId(page) {
  return page.evaluate(() => /** @type {any} */ (window).wiresift.current?.id);
}

/**
 * Saves a download and returns its bytes.
 * @param {import('playwright-core').Download} dl
 */
export async function downloadBytes(dl) {
  const p = await dl.path();
  return fs.readFileSync(/** @type {string} */ (p));
}
