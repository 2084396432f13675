/**
 * JSON answers for items that ask for JSON (response_format json_object / json_schema). Workflow
 * products parse their outputs, so a test-mode run should produce JSON of the asked-for shape rather
 * than prose: a json_schema is sampled, and a json_object prompt's inline template such as
 * `{"label": <label>, "confidence": <0..1>}` is filled in. Values are picked by `pick`, a
 * deterministic [0, 1) source, so the same item always gets the same answer.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export interface JsonContext {
  /** Words of the user's request, echoed into string values. */
  echo: string;
  /** Deterministic [0, 1) for a salt. */
  pick: (salt: string) => number;
}

const NUMBER_WORDS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10 };
const round2 = (n: number) => Math.round(n * 100) / 100;

function sampleString(schema: Json, ctx: JsonContext, path: string): string {
  if (schema.format === "date") return "2026-01-15";
  if (schema.format === "date-time") return "2026-01-15T12:00:00Z";
  const max = typeof schema.maxLength === "number" ? schema.maxLength : 200;
  const min = typeof schema.minLength === "number" ? schema.minLength : 0;
  const base = (ctx.echo || `simulated ${path || "value"}`).slice(0, max);
  return base.padEnd(min, ".");
}

function sampleNumber(schema: Json, ctx: JsonContext, path: string, integer: boolean): number {
  const lo = typeof schema.minimum === "number" ? schema.minimum : 0;
  const hi = typeof schema.maximum === "number" ? schema.maximum : lo + 100;
  const u = ctx.pick(`num:${path}`);
  if (!integer) return round2(lo + (hi - lo) * u);
  const a = Math.ceil(lo);
  return Math.min(Math.floor(hi), a + Math.floor((Math.floor(hi) - a + 1) * u));
}

/** A value matching a (reasonable subset of) JSON Schema: types, enum, const, anyOf/oneOf, objects, arrays. */
export function sampleFromSchema(schema: unknown, ctx: JsonContext, path = "", depth = 0): unknown {
  if (!isObj(schema) || depth > 8) return null;
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    return schema.enum[Math.floor(ctx.pick(`enum:${path}`) * schema.enum.length)];
  }
  const alternatives = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (alternatives) {
    const chosen = alternatives.find((a) => !(isObj(a) && a.type === "null")) ?? alternatives[0];
    return sampleFromSchema(chosen, ctx, path, depth + 1);
  }
  // ["string", "null"]: answer with the non-null type, as a model that found the value would.
  const type = Array.isArray(schema.type) ? (schema.type.find((t) => t !== "null") ?? "null") : schema.type;
  switch (type) {
    case "object": {
      const props = isObj(schema.properties) ? schema.properties : {};
      return Object.fromEntries(Object.entries(props).map(([k, s]) => [k, sampleFromSchema(s, ctx, `${path}/${k}`, depth + 1)]));
    }
    case "array": {
      const min = typeof schema.minItems === "number" ? schema.minItems : 1;
      const max = typeof schema.maxItems === "number" ? schema.maxItems : Math.max(min, 3);
      const n = Math.min(Math.max(min, 1), max, 20);
      return Array.from({ length: n }, (_, i) => sampleFromSchema(schema.items, ctx, `${path}/${i}`, depth + 1));
    }
    case "string":
      return sampleString(schema, ctx, path);
    case "number":
      return sampleNumber(schema, ctx, path, false);
    case "integer":
      return sampleNumber(schema, ctx, path, true);
    case "boolean":
      return ctx.pick(`bool:${path}`) < 0.5;
    case "null":
      return null;
    default:
      return isObj(schema.properties) ? sampleFromSchema({ ...schema, type: "object" }, ctx, path, depth) : null;
  }
}

/** A list of three or more lower-case options in the prompt ("label: billing, bug, other"). */
function optionList(prompt: string): string[] | undefined {
  const m = /(?:^|[\s:(])([a-z][a-z0-9_-]*(?:,\s*(?:or\s+)?[a-z][a-z0-9_-]*){2,})/.exec(prompt);
  return m?.[1]
    ?.split(",")
    .map((s) => s.trim().replace(/^or\s+/, ""))
    .filter(Boolean);
}

function fillPlaceholder(key: string, raw: string, prompt: string, ctx: JsonContext): unknown {
  const value = raw.trim();
  const range = /(-?\d+(?:\.\d+)?)\s*(?:\.\.|-|to)\s*(-?\d+(?:\.\d+)?)/.exec(value);
  if (value.startsWith("<") && range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    return round2(lo + (hi - lo) * (0.5 + 0.5 * ctx.pick(`range:${key}`)));
  }
  if (value.startsWith("[")) {
    const countWord = /\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\b/i.exec(value)?.[1]?.toLowerCase();
    const n = countWord ? (NUMBER_WORDS[countWord] ?? Number(countWord)) : 3;
    return Array.from({ length: Math.min(n, 20) }, (_, i) => `${ctx.echo || "simulated"} (${i + 1})`.slice(0, 200));
  }
  if (value.startsWith('"')) return value.replace(/^"|"$/g, "");
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === "true" || value === "false") return value === "true";
  const options = optionList(prompt);
  if (options) return options[Math.floor(ctx.pick(`option:${key}`) * options.length)];
  return ctx.echo || `simulated ${key}`;
}

/** Fills the first inline JSON template of the prompt; without one, `{"result": echo}`. */
export function jsonFromPromptTemplate(prompt: string, ctx: JsonContext): Json {
  const template = /\{\s*"[^"]+"\s*:[^{}]*\}/.exec(prompt)?.[0];
  if (!template) return { result: ctx.echo || "simulated" };
  const out: Json = {};
  for (const m of template.matchAll(/"([^"]+)"\s*:\s*(<[^>]*>|\[[^\]]*\]|"[^"]*"|[^,}]+)/g)) {
    const key = m[1] as string;
    out[key] = fillPlaceholder(key, m[2] as string, prompt, ctx);
  }
  return out;
}
