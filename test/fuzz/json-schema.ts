// The slice of JSON Schema (draft 2020-12, as /v1/openapi.json publishes it) the fuzzer reads: enough to
// build a valid-looking body from a request schema, and to decide — independently of the server — that a
// mutated body is definitely invalid, so a 2xx for it is a defect and not a generator mistake.

export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  default?: unknown;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Values for the `{}` (any) element schemas the domain checks itself: the manifest item, mostly. */
export const SAMPLE_BY_FIELD: Record<string, Json> = {
  items: {
    customer_item_id: "fuzz-1",
    operation: "responses",
    model: "gpt-4o-mini",
    input: { messages: [{ role: "user", content: "Classify: the invoice was charged twice." }] },
    max_output_tokens: 40,
  },
  inputs: { text: "The invoice was charged twice." },
};
SAMPLE_BY_FIELD.sample_items = SAMPLE_BY_FIELD.items!;

// Strings that satisfy the formats and patterns the API publishes, so the sample gets past them.
const SAMPLE_BY_FORMAT: Record<string, string> = {
  "date-time": "2099-01-01T00:00:00Z",
  uri: "https://example.com/hook",
  email: "fuzz@example.com",
};
const SAMPLE_BY_PATTERN = ["1.5", "openai", "fuzz-1", "x"];

const typesOf = (s: Schema): string[] => (s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type]);

/**
 * A plausible value for `schema`: required properties always, optional ones where `keep` says (all by
 * default), arrays of one, the first enum value. Fewer optional fields make a body that is valid past
 * the schema too (several fields exclude each other), so a mutation of it reaches the domain's code.
 */
export function sampleOf(schema: Schema, field = "", keep: (name: string) => boolean = () => true): Json {
  if (schema.const !== undefined) return schema.const as Json;
  if (schema.enum) return schema.enum[0] as Json;
  const branch = schema.anyOf?.[0] ?? schema.oneOf?.[0] ?? schema.allOf?.[0];
  if (branch) return sampleOf(branch, field, keep);
  const [type] = typesOf(schema);
  switch (type) {
    case "object": {
      const out: Record<string, Json> = {};
      for (const [k, s] of Object.entries(schema.properties ?? {})) {
        if (schema.required?.includes(k) || keep(k)) out[k] = sampleOf(s, k, keep);
      }
      if (!schema.properties && typeof schema.additionalProperties === "object") out.k = sampleOf(schema.additionalProperties);
      return out;
    }
    case "array": {
      const hinted = SAMPLE_BY_FIELD[field];
      const item = schema.items && Object.keys(schema.items).length > 0 ? sampleOf(schema.items, "", keep) : (hinted ?? "x");
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => item);
    }
    case "string": {
      if (schema.format && SAMPLE_BY_FORMAT[schema.format]) return SAMPLE_BY_FORMAT[schema.format]!;
      if (schema.pattern) {
        const re = new RegExp(schema.pattern, "u");
        const fit = SAMPLE_BY_PATTERN.find((s) => re.test(s));
        if (fit) return fit;
      }
      return "x".repeat(Math.max(1, schema.minLength ?? 1));
    }
    case "integer":
    case "number": {
      const low = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
      return Math.min(low, schema.maximum ?? low);
    }
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return "x";
  }
}

function typeMatches(type: string, v: unknown): boolean {
  switch (type) {
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "integer":
      return Number.isInteger(v);
    case "number":
      return typeof v === "number";
    case "boolean":
      return typeof v === "boolean";
    case "null":
      return v === null;
    default:
      return true;
  }
}

// Formats are checked loosely on purpose: only a value that can't possibly pass counts as a violation.
const FORMAT_SHAPE: Record<string, RegExp> = {
  "date-time": /^\d{4}-\d{2}-\d{2}T/,
  uri: /^[a-z][a-z0-9+.-]*:/i,
  email: /@/,
};

/**
 * True when `value` certainly fails `schema`. Conservative: anything it can't judge (refinements the
 * document doesn't show, formats it doesn't know) counts as passing, so the fuzzer only ever claims a
 * body is bad when the published contract says so.
 */
export function violates(schema: Schema, value: unknown): boolean {
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) return true;
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return true;
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches?.every((b) => violates(b, value))) return true;
  if (schema.allOf?.some((b) => violates(b, value))) return true;
  const types = typesOf(schema);
  if (types.length > 0 && !types.some((t) => typeMatches(t, value))) return true;
  if (typeof value === "string") {
    const length = [...value].length;
    if (schema.maxLength !== undefined && length > schema.maxLength) return true;
    if (schema.minLength !== undefined && length < schema.minLength) return true;
    if (schema.pattern && !new RegExp(schema.pattern, "u").test(value)) return true;
    const shape = schema.format ? FORMAT_SHAPE[schema.format] : undefined;
    if (shape && !shape.test(value)) return true;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return true;
    if (schema.maximum !== undefined && value > schema.maximum) return true;
    if (schema.minimum !== undefined && value < schema.minimum) return true;
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return true;
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) return true;
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return true;
    if (schema.minItems !== undefined && value.length < schema.minItems) return true;
    if (schema.items && value.some((v) => violates(schema.items!, v))) return true;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    if (schema.required?.some((k) => !(k in obj))) return true;
    if (schema.maxProperties !== undefined && Object.keys(obj).length > schema.maxProperties) return true;
    for (const [k, v] of Object.entries(obj)) {
      if (schema.propertyNames && violates(schema.propertyNames, k)) return true;
      const prop = schema.properties?.[k];
      if (prop) {
        if (violates(prop, v)) return true;
        continue;
      }
      if (schema.additionalProperties === false) return true;
      if (typeof schema.additionalProperties === "object" && violates(schema.additionalProperties, v)) return true;
    }
  }
  return false;
}

/** A JSON path into a value: object keys and array indexes. */
export type Path = (string | number)[];

/** Every place in `value` a mutation can go (the root included), with the schema that governs it. */
export function sitesOf(schema: Schema, value: Json, path: Path = []): { path: Path; schema: Schema }[] {
  const out = [{ path, schema }];
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => out.push(...sitesOf(schema.items!, v, [...path, i])));
  else if (value && typeof value === "object" && !Array.isArray(value) && schema.properties) {
    for (const [k, v] of Object.entries(value)) {
      const prop = schema.properties[k];
      if (prop) out.push(...sitesOf(prop, v, [...path, k]));
    }
  }
  return out;
}

/** A copy of `root` with the value at `path` replaced (or removed, for `undefined`). */
export function setAt(root: Json, path: Path, next: Json | undefined): Json {
  if (path.length === 0) return next === undefined ? {} : next;
  const [head, ...rest] = path;
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as object) };
  const child = copy[head as keyof typeof copy] as Json;
  if (rest.length === 0 && next === undefined) {
    if (Array.isArray(copy)) copy.splice(head as number, 1);
    else delete copy[head as string];
  } else copy[head as keyof typeof copy] = rest.length === 0 ? next : setAt(child, rest, next);
  return copy;
}

// String.prototype.isWellFormed is ES2024, past this project's lib typings.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** True when a string anywhere in the value (key or value) holds a NUL or an unpaired surrogate: refused by contract. */
export function holdsUnstorable(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000") || !isWellFormed(value);
  if (Array.isArray(value)) return value.some(holdsUnstorable);
  if (value && typeof value === "object") return Object.entries(value).some(([k, v]) => holdsUnstorable(k) || holdsUnstorable(v));
  return false;
}
