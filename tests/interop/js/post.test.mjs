// createPresignedPost from @aws-sdk/s3-presigned-post: the form it generates, posted with Node's
// own FormData and fetch as a browser posts it (fields first, the file last as a Blob), is
// accepted and stored byte for byte; tampered with, it is refused and stores nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { bucket, client, endpoint, errorCode, exists, randomBytes, uniquePrefix } from "./gateway.mjs";

const LIMIT = 64 * 1024;

/** A form for `key` under `prefix`: a file of 1..LIMIT bytes, any key under the prefix. */
function presignedPost(s3, prefix, key, fields = {}) {
  return createPresignedPost(s3, {
    Bucket: bucket,
    Key: key,
    Conditions: [
      ["content-length-range", 1, LIMIT],
      ["starts-with", "$key", prefix],
      ...Object.entries(fields).map(([k, v]) => ({ [k]: v })),
    ],
    Fields: fields,
    Expires: 600,
  });
}

async function post(url, fields, data, filename = "upload.bin", type = "application/octet-stream") {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([data], { type }), filename);
  const res = await fetch(url, { method: "POST", body: form });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function getObject(s3, key) {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: Buffer.from(await got.Body.transformToByteArray()), etag: got.ETag, type: got.ContentType };
}

/** `value` with one alphanumeric character near its middle changed. */
const changed = (value) => {
  let i = value.length >> 1;
  while (!/[0-9A-Za-z]/.test(value[i])) i++;
  const c = value[i];
  return value.slice(0, i) + ({ 0: "1", a: "b", A: "B" }[c] ?? "0") + value.slice(i + 1);
};

test("createPresignedPost as generated: 204 by default, object stored byte-exact", async () => {
  const s3 = client();
  const prefix = uniquePrefix("post-default");
  const key = prefix + "upload.bin";
  const { url, fields } = await presignedPost(s3, prefix, key);
  assert.equal(url, `${endpoint}/${bucket}`);
  assert.ok(fields["X-Amz-Signature"] && fields.Policy, JSON.stringify(fields));
  const data = randomBytes(LIMIT);

  const res = await post(url, fields, data);
  assert.equal(res.status, 204, res.text);
  const got = await getObject(s3, key);
  assert.ok(got.body.equals(data));
  assert.equal(got.etag, res.headers.get("etag"));
});

test("createPresignedPost with ${filename} and success_action_status 201", async () => {
  const s3 = client();
  const prefix = uniquePrefix("post-201");
  const { url, fields } = await presignedPost(s3, prefix, prefix + "${filename}", {
    success_action_status: "201",
    "Content-Type": "image/png",
  });
  const data = randomBytes(1);
  const filename = "photo ü 1.png";

  const res = await post(url, fields, data, filename);
  assert.equal(res.status, 201, res.text);
  const key = prefix + filename;
  assert.match(res.text, /<PostResponse[ >]/);
  assert.equal(/<Bucket>([^<]*)<\/Bucket>/.exec(res.text)?.[1], bucket, res.text);
  assert.equal(/<Key>([^<]*)<\/Key>/.exec(res.text)?.[1], key, res.text);
  const location = `${endpoint}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  assert.equal(/<Location>([^<]*)<\/Location>/.exec(res.text)?.[1], location, res.text);
  const got = await getObject(s3, key);
  assert.ok(got.body.equals(data));
  assert.equal(got.type, "image/png");
  assert.equal(/<ETag>([^<]*)<\/ETag>/.exec(res.text)?.[1].replaceAll("&quot;", '"'), got.etag, res.text);
});

for (const [name, tamper, status, code] of [
  ["a changed signature", (f) => ({ ...f, fields: { ...f.fields, "X-Amz-Signature": changed(f.fields["X-Amz-Signature"]) } }), 403, "SignatureDoesNotMatch"],
  ["a changed policy", (f) => ({ ...f, fields: { ...f.fields, Policy: changed(f.fields.Policy) } }), 403, "SignatureDoesNotMatch"],
  ["a file over the content-length-range", (f) => ({ ...f, data: randomBytes(LIMIT + 1) }), 400, "EntityTooLarge"],
  ["a key outside its starts-with", (f) => ({ ...f, fields: { ...f.fields, key: f.elsewhere } }), 403, "AccessDenied"],
]) {
  test(`createPresignedPost with ${name} is refused and stores nothing`, async () => {
    const s3 = client();
    const prefix = uniquePrefix("post-tampered");
    const key = prefix + "never.bin";
    const form = await presignedPost(s3, prefix, prefix + "${filename}");
    const t = tamper({ ...form, data: randomBytes(1000), elsewhere: `${prefix.slice(0, -1)}-elsewhere/never.bin` });

    const res = await post(t.url, t.fields, t.data, "never.bin");
    assert.equal(res.status, status, res.text);
    assert.equal(errorCode(res.text), code, res.text);
    if (code === "AccessDenied") assert.match(res.text, /Invalid according to Policy/);
    assert.equal(await exists(s3, key), false, "refused, yet the object was stored");
    assert.equal(await exists(s3, t.elsewhere), false, "refused, yet the object was stored");
  });
}
