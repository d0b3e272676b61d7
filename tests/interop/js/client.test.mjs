// The AWS SDK for JavaScript v3 with header signatures: a streamed PutObject (the SDK sends it
// aws-chunked as STREAMING-UNSIGNED-PAYLOAD-TRAILER with a trailing CRC32) and GetObject.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PutObjectCommand, GetObjectCommand, DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { bucket, client, exists, MiB, randomBytes, recordRequests, streamOf, uniquePrefix } from "./gateway.mjs";

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

test("PutObject with a stream body, then GetObject", async () => {
  const s3 = client();
  const seen = recordRequests(s3);
  const key = uniquePrefix("stream") + "streamed body.bin";
  const data = randomBytes(5 * MiB + 321);

  // ContentLength is needed: for a stream of unknown length this SDK fails before sending
  // (it sets x-amz-decoded-content-length to undefined, which Node's http refuses).
  const put = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: streamOf(data), ContentLength: data.length }),
  );
  assert.equal(put.$metadata.httpStatusCode, 200);
  const sent = seen.at(-1);
  assert.equal(sent["x-amz-content-sha256"], "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
  assert.equal(sent["content-encoding"], "aws-chunked");
  assert.equal(sent["x-amz-trailer"], "x-amz-checksum-crc32");
  assert.equal(sent["x-amz-decoded-content-length"], String(data.length));

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from(await got.Body.transformToByteArray());
  assert.equal(body.length, data.length);
  assert.equal(sha256(body), sha256(data));

  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  assert.equal(await exists(s3, key), false);
});

test("PutObject with a Buffer body and ListObjectsV2", async () => {
  const s3 = client();
  const prefix = uniquePrefix("buffer");
  const data = randomBytes(MiB + 7);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + "a.bin", Body: data }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + "b/c.bin", Body: "small" }));

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + "a.bin" }));
  assert.ok(Buffer.from(await got.Body.transformToByteArray()).equals(data));

  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  assert.deepEqual(
    listed.Contents.map((o) => [o.Key, o.Size]),
    [
      [prefix + "a.bin", data.length],
      [prefix + "b/c.bin", 5],
    ],
  );
});

test("a client with the wrong secret is refused and stores nothing", async () => {
  // Three streamed uploads of 1 MiB (under the SDK's 2 MB Expect: 100-continue threshold, so
  // the body is on its way when the 403 comes): each must read SignatureDoesNotMatch, not a
  // reset connection, and the next request on the client must not hit a closed socket.
  const forged = client({ credentials: { accessKeyId: "GUESTPASSDEMO", secretAccessKey: "not-the-secret" } });
  const prefix = uniquePrefix("forged");
  for (let i = 0; i < 3; i++) {
    const key = `${prefix}never-${i}.bin`;
    const data = randomBytes(MiB);
    await assert.rejects(
      forged.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: streamOf(data), ContentLength: data.length })),
      (e) => {
        assert.equal(e.name, "SignatureDoesNotMatch", `attempt ${i}: ${e.name}: ${e.message}`);
        assert.equal(e.$metadata.httpStatusCode, 403);
        return true;
      },
    );
    assert.equal(await exists(client(), key), false);
  }
});
