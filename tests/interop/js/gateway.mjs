// Shared by the JS interop tests: the gateway started by ./run (or scripts/interop), an
// S3Client for it as an application would build one, and helpers to compare bytes.
import { S3Client, HeadObjectCommand } from "@aws-sdk/client-s3";
import { randomBytes, randomUUID } from "node:crypto";
import { Readable } from "node:stream";

export const endpoint = process.env.GUESTPASS_INTEROP_ENDPOINT;
if (!endpoint) {
  throw new Error("GUESTPASS_INTEROP_ENDPOINT is not set: run tests/interop/js/run or scripts/interop");
}
export const bucket = process.env.GUESTPASS_INTEROP_BUCKET ?? "demo";
export const credentials = {
  accessKeyId: process.env.GUESTPASS_INTEROP_ACCESS_KEY ?? "GUESTPASSDEMO",
  secretAccessKey: process.env.GUESTPASS_INTEROP_SECRET_KEY ?? "guestpass-demo-secret-not-for-production",
};
export const MiB = 1024 * 1024;

/** An S3Client with the SDK's defaults (checksums included) but for the gateway's address. */
export function client(options = {}) {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: "us-east-1",
    credentials,
    maxAttempts: 1,
    ...options,
  });
}

/** Records the headers of every request `s3` sends (after signing), so a test can show which
 * signing mode the SDK chose. */
export function recordRequests(s3) {
  const seen = [];
  s3.middlewareStack.add(
    (next) => async (args) => {
      seen.push({ ...args.request.headers });
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "interopRecordRequests" },
  );
  return seen;
}

export function uniquePrefix(name) {
  return `interop/js/${name}-${randomUUID().slice(0, 8)}/`;
}

export { randomBytes };

/** `data` as a Node stream of 64 KiB pieces whose length the SDK cannot see. */
export function streamOf(data) {
  async function* pieces() {
    for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
  }
  return Readable.from(pieces());
}

export async function exists(s3, key) {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (e) {
    if (e.$metadata?.httpStatusCode === 404) return false;
    throw e;
  }
}

export function errorCode(xml) {
  return /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
}
