import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { customEndpointsSchema, providerEndpoints, type CustomEndpoint, type ProviderEndpoints } from "./providers/endpoints.js";

/** A secret from the environment: empty means unset. */
const secret = z
  .string()
  .optional()
  .transform((v) => (v ? v : undefined));

/** Reads a "1"/"true"/"0"/"false" environment flag. */
const flag = z
  .enum(["1", "0", "true", "false", "yes", "no", ""])
  .optional()
  .transform((v) => v === "1" || v === "true" || v === "yes");

const usd = z
  .string()
  .regex(/^\d+(\.\d{1,6})?$/, "a decimal amount of US dollars, up to 6 places")
  .optional();

/** Every environment variable the platform reads, in one place (see README "Configuration"). */
export const configSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HOST: z.string().default("127.0.0.1"),
    DATABASE_URL: z.string().url().optional(),
    BATCHROUTER_DATA_DIR: z.string().default("./data"),
    BATCHROUTER_PUBLIC_URL: z.string().url().optional(),
    BATCHROUTER_SIGNUP_CREDIT_USD: usd.default("0"),
    BATCHROUTER_TEST_CREDIT_USD: usd.default("100"),
    BATCHROUTER_ALLOW_PRIVATE_WEBHOOKS: flag,
    /** Browser origins (comma-separated, e.g. `https://console.example.com`) allowed to call /mcp besides the server's own. */
    BATCHROUTER_ALLOWED_ORIGINS: z
      .string()
      .default("")
      .transform((v) =>
        v
          .split(",")
          .map((o) => o.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().url("each entry must be an origin such as https://app.example.com"))),
    RATE_LIMIT_PER_KEY_PER_MIN: z.coerce.number().int().positive().default(600),
    RATE_LIMIT_PER_IP_PER_MIN: z.coerce.number().int().positive().default(1200),
    AGENT_REGISTER_PER_IP_PER_HOUR: z.coerce.number().int().positive().default(20),
    TRUST_PROXY: flag,
    BATCHROUTER_SIMULATOR_TURNAROUND_MS: z.coerce.number().int().min(0).default(2000),
    BATCHROUTER_SIMULATOR: z
      .string()
      .optional()
      .refine(
        (v) =>
          v === undefined ||
          (() => {
            try {
              JSON.parse(v);
              return true;
            } catch {
              return false;
            }
          })(),
        "must be JSON",
      ),
    BATCHROUTER_RETRY_BASE_MS: z.coerce.number().int().min(1).default(1000),
    // Manifests of at most this many items are held in memory between the two passes of a large
    // batch's preparation (server/batches/prepare-large.ts): faster, at a few KB an item.
    BATCHROUTER_PREPARE_KEEP_ITEMS: z.coerce.number().int().min(0).default(20_000),
    BATCHROUTER_SECRET: z.string().min(32, "at least 32 characters").optional(),
    S3_BUCKET: z.string().min(3).optional(),
    S3_ENDPOINT: z.string().url().optional(),
    S3_REGION: z.string().default("us-east-1"),
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),
    S3_FORCE_PATH_STYLE: flag,
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    // Operations (README "Operations"): /metrics guard, a metrics listener for worker-only processes, the drain bound.
    METRICS_TOKEN: secret.refine((v) => v === undefined || v.length >= 16, "at least 16 characters"),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1000).default(25_000),
    // Providers (server/providers/endpoints.ts): a key turns a provider's lanes on for live keys.
    OPENAI_API_KEY: secret,
    OPENAI_BASE_URL: z.url().optional(),
    ANTHROPIC_API_KEY: secret,
    ANTHROPIC_BASE_URL: z.url().optional(),
    GROQ_API_KEY: secret,
    GROQ_BASE_URL: z.url().optional(),
    TOGETHER_API_KEY: secret,
    TOGETHER_BASE_URL: z.url().optional(),
    DEEPINFRA_API_KEY: secret,
    DEEPINFRA_BASE_URL: z.url().optional(),
    MISTRAL_API_KEY: secret,
    MISTRAL_BASE_URL: z.url().optional(),
    AZURE_OPENAI_API_KEY: secret,
    AZURE_OPENAI_ENDPOINT: z.url().optional(),
    AZURE_OPENAI_API_VERSION: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'an api-version such as "2024-10-21"')
      .optional(),
    BATCHROUTER_CUSTOM_ENDPOINTS: z.string().optional(),
    BATCHROUTER_CUSTOM_ENDPOINTS_FILE: z.string().optional(),
  })
  .superRefine((v, ctx) => {
    if (Boolean(v.AZURE_OPENAI_API_KEY) !== Boolean(v.AZURE_OPENAI_ENDPOINT)) {
      ctx.addIssue({
        code: "custom",
        path: [v.AZURE_OPENAI_API_KEY ? "AZURE_OPENAI_ENDPOINT" : "AZURE_OPENAI_API_KEY"],
        message: "AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT go together",
      });
    }
    if (v.BATCHROUTER_CUSTOM_ENDPOINTS && v.BATCHROUTER_CUSTOM_ENDPOINTS_FILE) {
      ctx.addIssue({
        code: "custom",
        path: ["BATCHROUTER_CUSTOM_ENDPOINTS_FILE"],
        message: "set BATCHROUTER_CUSTOM_ENDPOINTS or BATCHROUTER_CUSTOM_ENDPOINTS_FILE, not both",
      });
    }
  });

export type Config = Readonly<
  Omit<z.infer<typeof configSchema>, "BATCHROUTER_DATA_DIR"> & {
    BATCHROUTER_DATA_DIR: string;
    /** Where each configured provider is reached (never logged). */
    providers: ProviderEndpoints;
    /** The custom OpenAI-compatible endpoints, whose models become real-time lanes. */
    customEndpoints: readonly CustomEndpoint[];
  }
>;

/** Parses the environment once; throws a readable error naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const data = parsed.data;
  const customEndpoints = loadCustomEndpoints(data);
  return Object.freeze({
    ...data,
    BATCHROUTER_DATA_DIR: path.resolve(data.BATCHROUTER_DATA_DIR),
    providers: Object.freeze(providerEndpoints(data as unknown as Record<string, string | undefined>, customEndpoints)),
    customEndpoints,
  });
}

/** BATCHROUTER_CUSTOM_ENDPOINTS (JSON) or the file BATCHROUTER_CUSTOM_ENDPOINTS_FILE names; errors name the variable and the field. */
function loadCustomEndpoints(v: { BATCHROUTER_CUSTOM_ENDPOINTS?: string; BATCHROUTER_CUSTOM_ENDPOINTS_FILE?: string }): CustomEndpoint[] {
  const name = v.BATCHROUTER_CUSTOM_ENDPOINTS_FILE ? "BATCHROUTER_CUSTOM_ENDPOINTS_FILE" : "BATCHROUTER_CUSTOM_ENDPOINTS";
  let text = v.BATCHROUTER_CUSTOM_ENDPOINTS;
  if (v.BATCHROUTER_CUSTOM_ENDPOINTS_FILE) {
    try {
      text = fs.readFileSync(v.BATCHROUTER_CUSTOM_ENDPOINTS_FILE, "utf8");
    } catch (e) {
      throw new Error(
        `Invalid configuration:\n  ${name}: cannot read ${v.BATCHROUTER_CUSTOM_ENDPOINTS_FILE} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
      );
    }
  }
  if (!text?.trim()) return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`Invalid configuration:\n  ${name}: not JSON (${(e as Error).message})`);
  }
  const r = customEndpointsSchema.safeParse(json);
  if (!r.success) {
    const lines = r.error.issues.map(
      (i) => `  ${name}${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${i.message}`,
    );
    throw new Error(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return r.data;
}

/**
 * The base URL clients reach the API at, for links sent where there is no request to take the
 * origin from (webhook events): BATCHROUTER_PUBLIC_URL, else the address the API listens on.
 */
export function publicBaseUrl(config: Pick<Config, "BATCHROUTER_PUBLIC_URL" | "HOST" | "PORT">): string {
  if (config.BATCHROUTER_PUBLIC_URL) return config.BATCHROUTER_PUBLIC_URL.replace(/\/+$/, "");
  const host =
    config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
  return `http://${host}:${config.PORT}`;
}
