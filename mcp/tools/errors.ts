import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { PlatformError, type Platform, type ToolEnv } from "../platform.js";

// Details are free-form per error code (spec/api.md "Error codes").
type Details = Record<string, any>;

const money = (m: unknown) => (m as { amount?: string } | undefined)?.amount ?? "?";

/** "path: message" lines of a validation failure, as many as a model can use. */
function fieldErrors(details: Details): string {
  const errs = (details.errors ?? details.preflight ?? []) as { path?: string; item?: unknown; line?: number; message: string }[];
  const lines = errs
    .slice(0, 10)
    .map((e) => `  ${e.path ?? (e.line !== undefined ? `line ${e.line}` : `item ${String(e.item)}`)}: ${e.message}`);
  return lines.length ? `\n${lines.join("\n")}${errs.length > 10 ? `\n  … and ${errs.length - 10} more` : ""}` : "";
}

/** How to get credits, for the org when we know it. */
async function fundingHint(platform: Platform, d: Details): Promise<string> {
  const shortfall = Number(money(d.shortfall));
  const grant = Number.isFinite(shortfall) && shortfall > 0 ? (Math.ceil(shortfall * 100) / 100).toFixed(2) : "<usd>";
  const org = await platform.getAccount().then(
    (a) => a.org_id as string,
    () => "<org_id>",
  );
  const env = platform.keyEnvironment();
  return (
    `Missing ${money(d.shortfall)} USD (available ${money(d.available)}, required ${money(d.required)}). ` +
    `To add credits, an operator of this BatchRouter runs \`npm run admin -- credits grant ${org} ${grant}${env === "test" ? " --test" : ""}\`; ` +
    "self-serve card checkout (POST /v1/billing/checkout-sessions) is coming. Then call the same tool again. " +
    (env === "live"
      ? "To try the flow for free meanwhile, use the test key (br_test_…): it runs on the simulator with free test credit."
      : "")
  );
}

/** What the agent should do next, per error code: the point of a readable tool error. */
async function nextStep(e: PlatformError, platform: Platform): Promise<string> {
  const d = e.details as Details;
  const viaStdio = platform.transport === "stdio";
  switch (e.code) {
    case "unauthorized":
      if (d.reason === "no_key") {
        return (
          "Call register_agent to sign up: free, no email needed, and this session continues at once with a test key " +
          "(simulator, free test credit). Or set BATCHROUTER_API_KEY to an existing key in this MCP server's configuration and restart it."
        );
      }
      return viaStdio
        ? "Check BATCHROUTER_API_KEY in this MCP server's configuration (keys start with br_live_ or br_test_), or remove it and call register_agent for a new account."
        : "Send a valid key as `Authorization: Bearer <key>` to /mcp.";
    case "insufficient_scope":
      return `This key lacks the \`${String(d.required_scope)}\` scope. Create a key that has it (POST /v1/auth/account/api-keys with "scopes") and configure that key.`;
    case "insufficient_credits":
      return fundingHint(platform, d);
    case "not_found":
      return "Check the id: list_batches lists your batches. Test and live keys see separate data — a batch made with the test key is invisible to the live key, and the other way round.";
    case "invalid_request":
    case "invalid_json":
      return `Fix these fields and call again:${fieldErrors(d)}`;
    case "preflight_failed":
      return `Fix these manifest lines and call again:${fieldErrors(d)}`;
    case "results_not_ready":
      return `The batch is ${String(d.status ?? "still running")}. Call get_batch_status with wait_seconds until done is true, then call this tool again.`;
    case "invalid_state":
      return d.status ? `Nothing to do: the batch is ${String(d.status)}.` : "The request doesn't apply in the current state; see details.";
    case "quote_expired":
      return "Call quote_batch for a fresh quote and submit with its quote_id, or submit without quote_id to be priced at submit time.";
    case "quote_mismatch":
      return "Submit exactly the items you quoted (same items, same order), or leave out quote_id.";
    case "no_eligible_lane":
      return "No lane can serve some items under these constraints (details.items says why). Relax sla_tier, privacy_tier, allowed_regions or provider_preferences, or choose another model (list_models).";
    case "idempotency_conflict":
      return "This idempotency_key was used for a different request; pass a new idempotency_key.";
    case "idempotency_key_in_use":
      return "The first request with this idempotency_key is still running; call again in a moment.";
    case "rate_limited":
      return `Too many requests: wait ${String(d.retry_after_seconds ?? 1)} s, then call again.`;
    case "payload_too_large":
      return viaStdio
        ? "Too large to send inline: write the items to a JSONL file (one item per line) and pass file_path."
        : "Too large to send inline: upload a JSONL manifest with POST /v1/batches/input-manifests and pass its input_file_id.";
    case "service_unavailable":
      return viaStdio
        ? `Is the BatchRouter server running (\`npm start\`), and is BATCHROUTER_BASE_URL (${platform.baseUrl}) right? Call again once it is up.`
        : "The service is unavailable for the moment; call again shortly.";
    case "internal_error":
      return "Something failed on BatchRouter's side; call again. If it persists, report the request_id.";
    default:
      return "See the message and details.";
  }
}

/** Any failure as a tool error the model can read: our code, the message, and what to do next. */
export async function toolError(err: unknown, env: ToolEnv, tool: string): Promise<CallToolResult> {
  let e: PlatformError;
  if (err instanceof PlatformError) {
    e = err;
    if (e.status >= 500 && e.code === "internal_error") env.onInternalError?.(err, tool);
  } else {
    env.onInternalError?.(err, tool);
    e = new PlatformError("internal_error", "Something went wrong on our side.", 500);
  }
  const next_step = await nextStep(e, env.platform);
  const error = { code: e.code, message: e.message, next_step, details: e.details, request_id: e.requestId };
  return {
    isError: true,
    content: [
      { type: "text", text: `Error ${e.code}: ${e.message}\nWhat to do: ${next_step}` },
      { type: "text", text: JSON.stringify({ error }) },
    ],
  };
}
