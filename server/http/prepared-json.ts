import { hash } from "node:crypto";

/** The weak ETag of a JSON body: a hash of its bytes (weak, because it may be sent compressed or not). */
export const weakEtag = (json: string | Buffer): string => `W/"${hash("sha1", json, "base64url")}"`;

/**
 * A JSON answer serialised ahead, with its ETag: a route that answers the same bytes many times (a
 * finished batch polled in a loop) keeps one and skips serialising and hashing per request.
 */
export class PreparedJson {
  readonly etag: string;

  /**
   * Kept as text, not bytes: Node sends a text body in the same write as the headers (one
   * syscall), while a Buffer body goes out as a second chunk of a writev — dearer on loopback.
   */
  constructor(readonly json: string) {
    this.etag = weakEtag(json);
  }

  static of(value: unknown): PreparedJson {
    return new PreparedJson(JSON.stringify(value));
  }
}
