// getSignedUrl from @aws-sdk/s3-request-presigner, fetched with Node's own fetch as a browser
// would. With the SDK's default checksum settings (requestChecksumCalculation WHEN_SUPPORTED) a
// PutObject URL carries a signed x-amz-checksum-crc32: of the body if the command was given its
// CRC32, otherwise of an empty body, which S3 then enforces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { bucket, client, errorCode, exists, MiB, randomBytes, uniquePrefix } from "./gateway.mjs";

const crc32Base64 = (data) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(data) >>> 0);
  return b.toString("base64");
};

async function getBack(s3, key) {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 600 });
  assert.match(url, /X-Amz-Signature=/);
  const res = await fetch(url);
  assert.equal(res.status, 200, await res.clone().text());
  return Buffer.from(await res.arrayBuffer());
}

test("getSignedUrl PUT (default checksums, CRC32 given) then getSignedUrl GET", async () => {
  const s3 = client();
  const key = uniquePrefix("presign-put") + "upload ü.bin";
  const data = randomBytes(2 * MiB + 9);
  const url = await getSignedUrl(
    s3,
    new PutObjectCommand({ Bucket: bucket, Key: key, ChecksumCRC32: crc32Base64(data) }),
    { expiresIn: 600 },
  );
  assert.match(url, /x-amz-checksum-crc32=/);
  const put = await fetch(url, { method: "PUT", body: data });
  assert.equal(put.status, 200, await put.text());
  assert.ok((await getBack(s3, key)).equals(data));
});

test("getSignedUrl PUT (default checksums, nothing given) signs the empty body's CRC32", async () => {
  const s3 = client();
  const key = uniquePrefix("presign-default") + "empty-checksum.bin";
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 600 });
  assert.match(url, /x-amz-checksum-crc32=AAAAAA%3D%3D/);

  // Another body than the one signed for is refused as S3 refuses it, and nothing is stored.
  const wrong = await fetch(url, { method: "PUT", body: randomBytes(1000) });
  const text = await wrong.text();
  assert.equal(wrong.status, 400, text);
  assert.equal(errorCode(text), "BadDigest", text);
  assert.equal(await exists(s3, key), false, "refused with BadDigest, yet the object was stored");

  // The body it was signed for (empty) goes through.
  const empty = await fetch(url, { method: "PUT", body: new Uint8Array(0) });
  assert.equal(empty.status, 200, await empty.text());
  assert.equal((await getBack(s3, key)).length, 0);
});

test("getSignedUrl PUT with requestChecksumCalculation WHEN_REQUIRED takes any body", async () => {
  const s3 = client({ requestChecksumCalculation: "WHEN_REQUIRED" });
  const key = uniquePrefix("presign-when-required") + "any.bin";
  const data = randomBytes(MiB + 1);
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 600 });
  assert.doesNotMatch(url, /x-amz-checksum/);
  const put = await fetch(url, { method: "PUT", body: data });
  assert.equal(put.status, 200, await put.text());
  assert.ok((await getBack(s3, key)).equals(data));
});

test("getSignedUrl with one signature character changed is refused", async () => {
  const s3 = client();
  const key = uniquePrefix("presign-tampered") + "never.bin";
  const tamper = (url) =>
    url.replace(/X-Amz-Signature=([0-9a-f])/, (_, c) => `X-Amz-Signature=${c === "0" ? "1" : "0"}`);

  const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "hello.txt" }), { expiresIn: 600 });
  const bad = await fetch(tamper(get));
  const text = await bad.text();
  assert.equal(bad.status, 403, text);
  assert.equal(errorCode(text), "SignatureDoesNotMatch", text);

  const put = await getSignedUrl(
    client({ requestChecksumCalculation: "WHEN_REQUIRED" }),
    new PutObjectCommand({ Bucket: bucket, Key: key }),
    { expiresIn: 600 },
  );
  const badPut = await fetch(tamper(put), { method: "PUT", body: "never stored" });
  const putText = await badPut.text();
  assert.equal(badPut.status, 403, putText);
  assert.equal(errorCode(putText), "SignatureDoesNotMatch", putText);
  assert.equal(await exists(s3, key), false);
});
