// The browser side of the example: ask the app's backend for a grant, upload the file
// straight to guestpass (another origin) with it, read it back with the pre-signed GET
// URL. Plain JavaScript, no build step, no SDK: a pre-signed URL is just a URL.
'use strict';

const fileInput = document.getElementById('file');
const results = document.getElementById('results');

/** Asks the app's own backend (same origin) for an upload grant. */
async function requestGrant(method, file) {
  const resp = await fetch('/api/uploads', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ method, name: file.name }),
  });
  if (!resp.ok) throw new Error(`the app refused to grant an upload: ${resp.status}`);
  return resp.json();
}

/**
 * PUT to the pre-signed URL. The Content-Type header makes this a preflighted
 * cross-origin request: the browser first asks the gateway (OPTIONS) whether this origin
 * may PUT with that header, as configured in the gateway's [[cors]] rules.
 */
function putFile(upload, file) {
  return fetch(upload.url, {
    method: 'PUT',
    headers: { 'Content-Type': file.type || 'application/octet-stream' },
    body: file,
  });
}

/**
 * POST a form: the grant's fields first, exactly as given (the policy they carry is
 * signed), the file last. A multipart POST is a "simple" request: no preflight.
 */
function postFile(upload, file) {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append('file', file);
  return fetch(upload.url, { method: 'POST', body: form });
}

/** An S3 error document's Code and Message (readable because the gateway sends CORS headers on errors too). */
async function s3Error(resp) {
  const text = await resp.text();
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  const pick = (tag) => doc.getElementsByTagName(tag)[0]?.textContent ?? '';
  return { code: pick('Code'), message: pick('Message') };
}

async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function addRow(method, file) {
  const li = document.createElement('li');
  li.dataset.method = method;
  li.dataset.state = 'pending';
  li.textContent = `${method} ${file.name} (${file.size} bytes): uploading…`;
  results.prepend(li);
  return li;
}

function finish(li, state, text, data) {
  Object.assign(li.dataset, data, { state });
  li.className = state;
  li.textContent = text;
}

async function upload(method) {
  const file = fileInput.files[0];
  if (!file) return;
  const li = addRow(method, file);
  try {
    const grant = await requestGrant(method, file);
    li.dataset.key = grant.key;
    const resp = method === 'PUT' ? await putFile(grant.upload, file) : await postFile(grant.upload, file);
    if (!resp.ok) {
      const err = await s3Error(resp);
      finish(li, 'refused', `${method} ${file.name}: refused by the gateway, ${resp.status} ${err.code}: ${err.message}`, {
        status: resp.status,
        code: err.code,
      });
      return;
    }

    // Read it back through the gateway and compare with what was sent.
    const got = await fetch(grant.download);
    if (!got.ok) {
      const err = await s3Error(got);
      finish(li, 'failed', `${method} ${file.name}: uploaded, but reading it back failed: ${got.status} ${err.code}`, {
        status: resp.status,
        code: err.code,
      });
      return;
    }
    const [sent, received] = await Promise.all([file.arrayBuffer(), got.arrayBuffer()]);
    const [sentHash, receivedHash] = await Promise.all([sha256Hex(sent), sha256Hex(received)]);
    const same = sent.byteLength === received.byteLength && sentHash === receivedHash;
    finish(
      li,
      same ? 'ok' : 'failed',
      `${method} ${file.name}: stored as ${grant.key} (${resp.status}); read back ${received.byteLength} bytes, ` +
        (same ? 'identical to the file sent.' : 'DIFFERENT from the file sent!'),
      {
        status: resp.status,
        etag: resp.headers.get('ETag') ?? '',
        sha256: sentHash,
        downloadSha256: receivedHash,
        downloadSize: received.byteLength,
        match: String(same),
      },
    );
    const link = document.createElement('a');
    link.href = grant.download;
    link.textContent = ' Open it';
    li.append(link);
    if (file.type.startsWith('image/')) {
      const img = document.createElement('img');
      img.src = URL.createObjectURL(new Blob([received], { type: file.type }));
      img.alt = file.name;
      li.append(img);
    }
  } catch (err) {
    // fetch rejects without a status when the request never got an answer it may read.
    finish(li, 'failed', `${method} ${file.name}: ${err.message}`, { status: 0, code: 'NetworkError' });
  }
}

document.getElementById('put').addEventListener('click', () => upload('PUT'));
document.getElementById('post').addEventListener('click', () => upload('POST'));
