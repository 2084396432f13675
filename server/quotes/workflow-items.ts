import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import type { WorkflowProduct } from "../catalog/types.js";
import { fail } from "../errors.js";

const ajv = new Ajv2020({ allErrors: true, strict: false });
const validators = new WeakMap<object, ValidateFunction>();

function validatorFor(product: WorkflowProduct): ValidateFunction {
  const schema = product.preset_manifest.input_schema;
  let v = validators.get(schema);
  if (!v) {
    const { $schema: _ignored, ...rest } = schema as Record<string, unknown>;
    validators.set(schema, (v = ajv.compile(rest)));
  }
  return v;
}

const WHOLE = /^\{\{\s*([\w.]+)\s*\}\}$/;
const INLINE = /\{\{\s*([\w.]+)\s*\}\}/g;

/**
 * Fills a workflow's item template (see db/seeds/catalog/meta.json): a string that is exactly
 * {{name}} becomes the value itself; inside a longer string, its text. {{.}} is the whole input.
 */
export function fillTemplate(template: unknown, vars: Record<string, unknown>): unknown {
  const lookup = (name: string) => (name === "." ? vars["."] : vars[name]);
  if (typeof template === "string") {
    const whole = WHOLE.exec(template);
    if (whole) return lookup(whole[1]!) ?? "";
    return template.replace(INLINE, (_, name: string) => {
      const v = lookup(name);
      return v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(template)) return template.map((t) => fillTemplate(t, vars));
  if (template && typeof template === "object") {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fillTemplate(v, vars)]));
  }
  return template;
}

/** Customer inputs → native items, each input checked against the product's input schema first. */
export function itemsFromInputs(product: WorkflowProduct, inputs: unknown[], runId?: string): unknown[] {
  const validate = validatorFor(product);
  const errs: { path: string; message: string }[] = [];
  const items = inputs.map((input, i) => {
    if (!validate(input)) {
      for (const e of validate.errors ?? []) errs.push({ path: `/inputs/${i}${e.instancePath}`, message: e.message ?? "invalid" });
      return null;
    }
    const vars = { ...(input as Record<string, unknown>), ".": input, run_id: runId ?? `input-${i + 1}` };
    const item = fillTemplate(product.preset_manifest.item_template, vars) as Record<string, unknown>;
    return { model: product.preset_manifest.model, model_options: product.preset_manifest.model_options, ...item };
  });
  if (errs.length) {
    throw fail.invalidRequest(`Invalid inputs for ${product.slug}: ${errs[0]!.path}: ${errs[0]!.message}`, {
      location: "body",
      errors: errs.slice(0, 100),
    });
  }
  return items;
}
