// A real browser against a real gateway: headless Chromium (Debian's, driven by
// playwright-core) loads examples/browser-upload from one origin and uploads to guestpass
// on another: a pre-signed PUT (preflighted, because of its Content-Type) and a POST form,
// each read back with a pre-signed GET and compared byte for byte in the page. Uploads
// over the signed size cap are refused, and the page reads the gateway's 400
// EntityTooLarge (CORS headers are on error responses too).
//
// Run by scripts/browser, which installs Chromium and builds the gateway first.
// Environment: GUESTPASS_BIN (default target/debug/guestpass), CHROMIUM (default
// /usr/bin/chromium), KEEP_TMP=1 to keep the temporary folder with a screenshot.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { deflateSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const example = path.join(repo, 'examples', 'browser-upload');
const GUESTPASS_BIN = process.env.GUESTPASS_BIN || path.join(repo, 'target', 'debug', 'guestpass');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** The cap the example backend signs into every grant. */
const CAP = 1024 * 1024;
const STEP_TIMEOUT_MS = 60_000;

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A real PNG of `size`×`size` random pixels (so it hardly compresses), for the page to show. */
function randomPng(size) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = [];
  for (let y = 0; y < size; y++) rows.push(Buffer.from([0]), randomBytes(size * 3)); // filter 0 per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A child process whose output lines are kept (the last 200) and watched. `ready` is
 * a pattern one output line must match within `timeoutMs`; its match is returned.
 */
function startProcess(name, cmd, args, { env, ready, timeoutMs = 60_000 }) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const listeners = new Set();
  const onData = (stream) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop();
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 200) lines.shift();
        for (const l of listeners) l(line);
      }
    });
  };
  onData(child.stdout);
  onData(child.stderr);
  const proc = { name, child, lines, listeners, tail: () => lines.slice(-40).join('\n') };
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${proc.tail()}`));
    }, timeoutMs);
    const watch = (line) => {
      const m = line.match(ready);
      if (m) {
        clearTimeout(timer);
        listeners.delete(watch);
        resolve(m);
      }
    };
    listeners.add(watch);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name} could not be started: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${proc.tail()}`));
    });
  });
  return { proc, started };
}

function stop(proc) {
  if (proc && proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
}

/** Replaces `from` in `text`, insisting it is there, so a change to the example config is noticed. */
function replaceOnce(text, from, to) {
  assert.ok(text.includes(from), `examples/browser-upload/guestpass.toml no longer contains ${from}`);
  return text.replace(from, to);
}

/** The example's gateway config, on `listen`, for `origin`, over `dataDir`. */
function gatewayConfig(listen, origin, dataDir) {
  let text = readFileSync(path.join(example, 'guestpass.toml'), 'utf8');
  text = replaceOnce(text, 'listen = "127.0.0.1:8080"', `listen = "${listen}"`);
  text = replaceOnce(
    text,
    'allowed_origins = ["http://localhost:8000", "http://127.0.0.1:8000"]',
    `allowed_origins = ["${origin}"]`,
  );
  text = replaceOnce(text, 'embedded_data_dir = "guestpass-data"', `embedded_data_dir = ${JSON.stringify(dataDir)}`);
  return text;
}

let tmp;
let pageServer;
let gateway;
let browser;
let page;
let pageOrigin;
let gatewayOrigin;
let dataDir;
const pageErrors = [];

/** The gateway's access-log entries (JSON lines from target guestpass::access). */
function accessLog() {
  return gateway.proc.lines
    .filter((l) => l.includes('"guestpass::access"'))
    .map((l) => JSON.parse(l));
}

async function diagnostics() {
  const rows = page ? await page.locator('#results').innerHTML().catch(() => '') : '';
  return [
    `page rows: ${rows}`,
    `page errors: ${pageErrors.join('\n') || 'none'}`,
    `gateway log:\n${gateway?.proc.tail() ?? ''}`,
    `page server log:\n${pageServer?.proc.tail() ?? ''}`,
  ].join('\n');
}

/** Picks `file` in the page, clicks the PUT or POST button, and returns the finished row's data. */
async function uploadInPage(method, file) {
  await page.setInputFiles('#file', { name: file.name, mimeType: file.type, buffer: file.buffer });
  const before = await page.locator('#results li').count();
  await page.click(method === 'PUT' ? '#put' : '#post');
  await page.waitForFunction(
    (n) => {
      const rows = document.querySelectorAll('#results li');
      return rows.length > n && rows[0].dataset.state !== 'pending';
    },
    before,
    { timeout: STEP_TIMEOUT_MS },
  );
  return page.locator('#results li').first().evaluate((li) => ({ ...li.dataset, text: li.textContent }));
}

function storedObject(key) {
  const file = path.join(dataDir, 'demo', ...key.split('/'));
  return existsSync(file) ? readFileSync(file) : null;
}

before(async () => {
  for (const [what, file] of [
    ['the gateway (cargo build)', GUESTPASS_BIN],
    ['Chromium (apt-get install chromium)', CHROMIUM],
  ]) {
    assert.ok(existsSync(file), `${what} is missing: ${file}`);
  }
  tmp = mkdtempSync(path.join(tmpdir(), 'guestpass-browser-'));
  dataDir = path.join(tmp, 'data');
  mkdirSync(path.join(dataDir, 'demo'), { recursive: true });
  const presignConfig = path.join(tmp, 'presign.toml');
  const env = { ...process.env };
  delete env.RUST_LOG;
  delete env.GUESTPASS_CONFIG;

  // The web app first: the gateway's CORS rule names its origin.
  pageServer = startProcess('example server', process.execPath, [path.join(example, 'server.js')], {
    env: { ...env, PORT: '0', GUESTPASS_BIN, GUESTPASS_CONFIG: presignConfig, UPLOAD_MAX_SIZE: String(CAP) },
    ready: /(http:\/\/127\.0\.0\.1:\d+)\//,
  });
  pageOrigin = (await pageServer.started)[1];

  const serveConfig = path.join(tmp, 'gateway.toml');
  writeFileSync(serveConfig, gatewayConfig('127.0.0.1:0', pageOrigin, dataDir));
  gateway = startProcess('gateway', GUESTPASS_BIN, ['serve', '--config', serveConfig, '--log-format', 'json'], {
    env,
    ready: /"message":"guestpass is serving","listen":"([0-9.]+:\d+)"/,
  });
  const listen = (await gateway.started)[1];
  gatewayOrigin = `http://${listen}`;
  // The app signs URLs for the address the gateway really listens on.
  writeFileSync(presignConfig, gatewayConfig(listen, pageOrigin, dataDir));

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // launch() gives the browser a fresh, temporary user-data-dir of its own.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: STEP_TIMEOUT_MS,
  });
  const context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
  await page.goto(`${pageOrigin}/`);
});

after(async () => {
  if (process.env.KEEP_TMP && page) {
    await page.screenshot({ path: path.join(tmp, 'page.png'), fullPage: true }).catch(() => {});
    console.log(`kept ${tmp} (page.png, data/)`);
  }
  await browser?.close().catch(() => {});
  stop(gateway?.proc);
  stop(pageServer?.proc);
  if (tmp && !process.env.KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});

test('the page and the gateway are different origins', () => {
  assert.notEqual(new URL(pageOrigin).origin, new URL(gatewayOrigin).origin);
});

test('pre-signed PUT from the page (CORS preflight), read back with a pre-signed GET', async () => {
  const file = { name: 'notes.bin', type: 'application/octet-stream', buffer: randomBytes(200 * 1024) };
  const row = await uploadInPage('PUT', file);
  assert.equal(row.state, 'ok', `${row.text}\n${await diagnostics()}`);
  assert.equal(row.status, '200');
  assert.equal(row.match, 'true');
  assert.equal(row.sha256, sha256(file.buffer), 'the page hashed what was sent');
  assert.equal(row.downloadSha256, sha256(file.buffer), 'the page read back the same bytes');
  assert.match(row.etag, /^"[0-9a-f]{32}"$/, 'ETag is exposed to the page');
  assert.deepEqual(storedObject(row.key), file.buffer, 'the store holds the file');

  const log = accessLog().filter((e) => e.key === row.key);
  const preflight = log.find((e) => e.method === 'OPTIONS');
  assert.ok(preflight, `the browser sent a CORS preflight: ${JSON.stringify(log)}`);
  assert.equal(preflight.status, 200);
  assert.ok(log.some((e) => e.method === 'PUT' && e.status === 200), JSON.stringify(log));
  assert.ok(log.some((e) => e.method === 'GET' && e.status === 200), JSON.stringify(log));
});

test('POST form from the page, read back with a pre-signed GET', async () => {
  const file = { name: 'photo.png', type: 'image/png', buffer: randomPng(256) };
  const row = await uploadInPage('POST', file);
  assert.equal(row.state, 'ok', `${row.text}\n${await diagnostics()}`);
  const shown = page.locator('#results li').first().locator('img');
  await shown.evaluate((img) => img.decode());
  assert.equal(await shown.evaluate((img) => img.naturalWidth), 256, 'the page shows the image it read back');
  assert.equal(row.status, '204');
  assert.equal(row.match, 'true');
  assert.equal(row.downloadSha256, sha256(file.buffer));
  assert.deepEqual(storedObject(row.key), file.buffer, 'the store holds the file');

  const log = accessLog().filter((e) => e.key === row.key);
  assert.ok(log.some((e) => e.method === 'POST' && e.status === 204), JSON.stringify(log));
  assert.ok(log.some((e) => e.method === 'GET' && e.status === 200), JSON.stringify(log));
});

for (const method of ['PUT', 'POST']) {
  test(`${method} over the signed size cap is refused, and the page reads why`, async () => {
    const file = { name: 'too-big.bin', type: 'application/octet-stream', buffer: randomBytes(3 * CAP) };
    const row = await uploadInPage(method, file);
    assert.equal(row.state, 'refused', `${row.text}\n${await diagnostics()}`);
    assert.equal(row.status, '400');
    assert.equal(row.code, 'EntityTooLarge');
    assert.equal(storedObject(row.key), null, 'nothing was stored');
    const log = accessLog().filter((e) => e.key === row.key);
    assert.ok(
      log.some((e) => e.method === method && e.status === 400 && e.error_code === 'EntityTooLarge'),
      JSON.stringify(log),
    );
  });
}
