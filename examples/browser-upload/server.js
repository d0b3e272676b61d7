// The web app's backend for the browser-upload example: it serves the page and, when the
// page asks, grants one upload by signing a URL (or a POST form) with the app's gateway
// credential. It never sees the file: the browser sends it straight to guestpass, which
// checks the signature and the limits signed into it.
//
// Signing is done by `guestpass presign`, so the example needs nothing but Node.js. A
// real backend would more likely use its S3 SDK's presigner (boto3's
// generate_presigned_url / generate_presigned_post, the JS SDK's getSignedUrl /
// createPresignedPost) with the same credential; `guestpass presign` adds what no SDK
// can: a size cap signed into a PUT URL.
//
//     node examples/browser-upload/server.js     # then open http://127.0.0.1:8000/
//
// Environment (all optional):
//     PORT               port to listen on (default 8000; 0 picks a free one)
//     GUESTPASS_BIN      the guestpass binary (default: guestpass on PATH)
//     GUESTPASS_CONFIG   the gateway config holding the credential (default: guestpass.toml here)
//     UPLOAD_MAX_SIZE    largest upload granted, e.g. 5MiB (default 5MiB)
//     BUCKET, PREFIX     where uploads go (default demo, uploads/)

'use strict';

const { execFile } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { readFile } = require('node:fs/promises');
const http = require('node:http');
const path = require('node:path');

const PORT = Number(process.env.PORT ?? 8000);
const GUESTPASS_BIN = process.env.GUESTPASS_BIN || 'guestpass';
const GUESTPASS_CONFIG = process.env.GUESTPASS_CONFIG || path.join(__dirname, 'guestpass.toml');
const UPLOAD_MAX_SIZE = process.env.UPLOAD_MAX_SIZE || '5MiB';
const BUCKET = process.env.BUCKET || 'demo';
const PREFIX = process.env.PREFIX || 'uploads/';

const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
};

/** Runs `guestpass presign ARGS... s3://BUCKET/KEY` and returns what it prints. */
function presign(args, key) {
  const argv = ['presign', '--config', GUESTPASS_CONFIG, '--expires', '15m', ...args, `s3://${BUCKET}/${key}`];
  return new Promise((resolve, reject) => {
    execFile(GUESTPASS_BIN, argv, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`guestpass presign failed: ${stderr.trim() || err.message}`));
      else resolve(stdout.trim());
    });
  });
}

/**
 * One upload grant: a fresh key under PREFIX, the means to upload it (a pre-signed PUT
 * URL, or a POST form's URL and fields) capped at UPLOAD_MAX_SIZE, and a pre-signed GET
 * URL to read it back.
 */
async function grant(method, name) {
  // The app names the object; the user's file name only decorates it.
  const safe = String(name || 'file').replace(/[^A-Za-z0-9._-]/g, '_').slice(-80) || 'file';
  const key = `${PREFIX}${randomBytes(6).toString('hex')}-${safe}`;
  const cap = ['--max-size', UPLOAD_MAX_SIZE];
  const upload =
    method === 'POST'
      ? JSON.parse(await presign(['--post', ...cap], key))
      : { url: await presign(['--method', 'PUT', ...cap], key) };
  const download = await presign(['--method', 'GET'], key);
  return { key, maxSize: UPLOAD_MAX_SIZE, upload, download };
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('request too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/api/uploads') {
      const { method, name } = await readJson(req);
      if (method !== 'PUT' && method !== 'POST') {
        send(res, 400, 'application/json', JSON.stringify({ error: 'method must be PUT or POST' }));
        return;
      }
      send(res, 200, 'application/json', JSON.stringify(await grant(method, name)));
      return;
    }
    const file = req.method === 'GET' && STATIC[url.pathname];
    if (!file) {
      send(res, 404, 'text/plain', 'not found\n');
      return;
    }
    send(res, 200, file[1], await readFile(path.join(__dirname, file[0])));
  } catch (err) {
    console.error(err);
    send(res, 500, 'application/json', JSON.stringify({ error: String(err.message || err) }));
  }
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`browser-upload example: http://127.0.0.1:${server.address().port}/`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
