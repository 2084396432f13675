// Structured outputs for the Anthropic fake: `output_config.format` checked the way the API checks it,
// and an answer that holds to the schema, so a test can tell the schema reached the provider intact.
// Written from Anthropic's public structured-outputs reference and the SDK's OutputConfig type.

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const bad = (message: string) => ({ type: "invalid_request_error", message });

/** The first problem with `output_config`, or null. Only `format: {type: "json_schema", schema}` and `effort`. */
export function validateOutputConfig(config: unknown): { type: string; message: string } | null {
  if (config === undefined || config === null) return null;
  if (!isObj(config)) return bad("output_config: Input should be a valid dictionary");
  for (const k of Object.keys(config)) {
    if (k !== "format" && k !== "effort") return bad(`output_config.${k}: Extra inputs are not permitted`);
  }
  const format = config.format;
  if (format === undefined || format === null) return null;
  if (!isObj(format)) return bad("output_config.format: Input should be a valid dictionary");
  if (format.type !== "json_schema") return bad("output_config.format.type: Input should be 'json_schema'");
  if (!isObj(format.schema)) return bad("output_config.format.schema: Field required");
  for (const k of Object.keys(format)) {
    if (k !== "type" && k !== "schema") return bad(`output_config.format.${k}: Extra inputs are not permitted`);
  }
  return null;
}

/** The schema a request asked its answer to follow, if any (call validateOutputConfig first). */
export function outputSchema(p: Json): Json | undefined {
  const format = isObj(p.output_config) ? p.output_config.format : undefined;
  return isObj(format) && isObj(format.schema) ? format.schema : undefined;
}

/** A deterministic instance of `schema`: every property filled, strings carry `seed` (the echo). */
export function sampleOf(schema: Json, seed: string): unknown {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ("const" in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "object": {
      const props = isObj(schema.properties) ? schema.properties : {};
      return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, sampleOf(isObj(v) ? v : {}, seed)]));
    }
    case "array":
      return isObj(schema.items) ? [sampleOf(schema.items, seed)] : [];
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : 0;
    case "boolean":
      return false;
    case "null":
      return null;
    default:
      return seed;
  }
}
