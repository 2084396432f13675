/**
 * A path as an RFC 6901 JSON Pointer ("/items/3/input"), the form every error of the API uses for
 * `details.errors[].path`: `~` and `/` inside a segment are escaped, the root is "/".
 */
export function jsonPointer(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "/";
  return `/${path.map((p) => String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("/")}`;
}
