import path from "node:path";
import type { Config } from "../config.js";
import type { ArtifactStore } from "./artifact-store.js";

/** Local disk unless S3_BUCKET is set. The S3 SDK is loaded only when it is used. */
export async function createArtifactStore(config: Config, opts: { publicBaseUrl: string; secret: Buffer }): Promise<ArtifactStore> {
  if (config.S3_BUCKET) {
    const { S3ArtifactStore } = await import("./artifact-store-s3.js");
    return new S3ArtifactStore({
      bucket: config.S3_BUCKET,
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
    });
  }
  const { LocalArtifactStore } = await import("./artifact-store-local.js");
  return LocalArtifactStore.create(path.join(config.BATCHROUTER_DATA_DIR, "artifacts"), opts);
}
