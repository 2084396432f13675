import { z } from "zod";
import { fail } from "../../errors.js";
import { verifyLocalSignature, type ArtifactStore } from "../../files/artifact-store.js";
import { FILE_CONTENT_TYPES } from "../../files/responses.js";
import { defineRoute } from "../route.js";

export { verifyLocalSignature };

// Every field is optional and any non-string is let through as "absent": a missing or mangled
// signature must be told as 403 `forbidden`, not as a 400 about query validation.
const loose = z.string().optional().catch(undefined);
export const artifactDownloadQuery = z.object({
  key: loose.describe("The artifact key the link was signed for."),
  expires: loose.describe("Unix seconds after which the link stops working."),
  filename: loose.describe("The download filename, when the link names one (it is signed too)."),
  sig: loose.describe("HMAC-SHA256 of the other parameters."),
});

const invalidLink = () => fail.forbidden("This download link is invalid or has expired.");

/**
 * The public end of signed download links made by the local artifact store (S3 links go straight
 * to the bucket). Needs only the store and the platform secret, so `AppDeps & {artifacts, secret}`
 * fits; rate limiting comes from the app's global per-IP limiter.
 */
export function artifactRoutes(deps: { artifacts: ArtifactStore; secret: Buffer }) {
  return [
    defineRoute({
      method: "get",
      path: "/v1/artifacts/download",
      tag: "artifacts",
      auth: "none",
      summary: "Download an artifact through a short-lived signed link (from `GET /v1/batches/{id}/artifact-url`).",
      query: artifactDownloadQuery,
      response: { contentTypes: FILE_CONTENT_TYPES, description: "The artifact's bytes: a JSONL file (output, errors or receipt lines)." },
      handler: async (ctx, { query }) => {
        const check = verifyLocalSignature(deps.secret, query);
        if (!check.ok) {
          ctx.state.log?.info({ reason: check.reason }, "artifact link refused");
          throw invalidLink();
        }
        const artifact = await deps.artifacts.open(check.key);
        // Set the body first: Koa drops Content-Length when a stream body replaces another body.
        ctx.body = artifact.body;
        ctx.type = artifact.contentType;
        ctx.length = artifact.bytes;
        if (check.filename !== undefined) ctx.set("Content-Disposition", contentDisposition(check.filename));
        // The link is a bearer credential for private data: keep it out of shared caches.
        ctx.set("Cache-Control", "private, no-store");
        ctx.set("X-Content-Type-Options", "nosniff");
        return undefined;
      },
    }),
  ];
}

/** `attachment` with a plain and an RFC 5987 filename, so odd characters can't break the header. */
function contentDisposition(filename: string): string {
  const plain = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
