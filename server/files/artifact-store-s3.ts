import { DeleteObjectCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { pipeline } from "node:stream/promises";
import {
  artifactNotFound,
  assertValidFilename,
  assertValidKey,
  contentTypeFor,
  hashingStream,
  toReadable,
  type ArtifactBody,
  type ArtifactStore,
  type OpenedArtifact,
  type StoredObject,
} from "./artifact-store.js";

export interface S3StoreOptions {
  bucket: string;
  endpoint?: string;
  region: string;
  /** Without both keys the SDK's default chain is used (instance roles, env, profiles). */
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
  /** Multipart part size; S3's minimum is 5 MiB. Memory per upload is at most partSize × queueSize. */
  partSize?: number;
  queueSize?: number;
}

// SigV4 presigned URLs can't outlive 7 days.
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** Artifacts in an S3-compatible bucket; downloads are presigned GETs straight from the bucket. */
export class S3ArtifactStore implements ArtifactStore {
  readonly kind = "s3" as const;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(opts: S3StoreOptions) {
    this.bucket = opts.bucket;
    this.partSize = Math.max(5 * 1024 * 1024, opts.partSize ?? 8 * 1024 * 1024);
    this.queueSize = opts.queueSize ?? 3;
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      credentials:
        opts.accessKeyId && opts.secretAccessKey ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } : undefined,
      // The SDK's default CRC checksums break presigned URLs used by browsers and some
      // S3-compatible servers; we verify content with our own sha256 instead (stack.md).
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  async put(key: string, body: ArtifactBody, opts?: { contentType?: string }): Promise<StoredObject> {
    assertValidKey(key);
    const hashing = hashingStream();
    // Upload reads from the hashing stream as it goes: small bodies become one PutObject, large ones
    // a multipart upload holding at most partSize × queueSize bytes in memory.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: hashing.stream, ContentType: opts?.contentType ?? contentTypeFor(key) },
      partSize: this.partSize,
      queueSize: this.queueSize,
    });
    // Either side can fail first, and the first error is the one reported. A source failure
    // destroys the hashing stream, which fails lib-storage's read of it; lib-storage then sends
    // AbortMultipartUpload (leavePartsOnError is false) before done() settles, so no orphaned parts
    // are left billing. (upload.abort() would settle done() at once and clean up in the background.)
    // On an upload failure we destroy the hashing stream ourselves too (lib-storage's for-await
    // usually does), so the source side can never wait forever on backpressure.
    const failures: unknown[] = [];
    await Promise.all([
      pipeline(toReadable(body), hashing.stream).catch((err: unknown) => {
        failures.push(err);
      }),
      upload.done().catch((err: unknown) => {
        failures.push(err);
        hashing.stream.destroy(err instanceof Error ? err : new Error(String(err)));
      }),
    ]);
    if (failures.length > 0) throw failures[0];
    return hashing.result();
  }

  async open(key: string): Promise<OpenedArtifact> {
    assertValidKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!res.Body) throw artifactNotFound();
      return {
        body: res.Body as NodeJS.ReadableStream,
        bytes: res.ContentLength ?? 0,
        contentType: res.ContentType ?? contentTypeFor(key),
      };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) throw artifactNotFound();
      throw err;
    }
  }

  async get(key: string): Promise<NodeJS.ReadableStream> {
    return (await this.open(key)).body;
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async signedUrl(key: string, opts: { expiresInSeconds: number; filename?: string }): Promise<{ url: string; expires_at: string }> {
    assertValidKey(key);
    if (opts.filename !== undefined) assertValidFilename(opts.filename);
    const expiresIn = Math.min(MAX_PRESIGN_SECONDS, Math.max(1, Math.floor(opts.expiresInSeconds)));
    const signedAt = Date.now();
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      // The filename charset (assertValidFilename) needs no escaping inside the quotes.
      ResponseContentDisposition: opts.filename === undefined ? undefined : `attachment; filename="${opts.filename}"`,
    });
    const url = await getSignedUrl(this.client, command, { expiresIn });
    return { url, expires_at: new Date(Math.floor(signedAt / 1000) * 1000 + expiresIn * 1000).toISOString() };
  }
}
