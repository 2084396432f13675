import { z } from "zod";
import { accountObject, agentRegistrationObject } from "../../server/accounts/responses.js";
import { agentRegisterInput } from "../../server/accounts/schemas.js";
import { defineTool } from "./define.js";

const FUNDING = "fund it: an operator runs `npm run admin -- credits grant <org_id> <usd>` (self-serve card checkout is coming)";

/**
 * Sign-up from inside the agent: with no key configured, the session signs up and carries on with
 * the test key, so the agent can run the whole path at once, for free, on the simulator. The live
 * key is returned for the agent to store; switching to it is a configuration change (and credits),
 * which the answer spells out.
 */
export const registerAgent = defineTool({
  name: "register_agent",
  title: "Sign up for BatchRouter",
  description:
    "Create a BatchRouter account without an email and get two API keys: a live key (real providers, real credits) and a test key " +
    "(simulator, free test credit). This session switches to the test key at once. Store both keys: they are shown only once. " +
    "If a key is already configured, nothing is created and the current account is described.",
  input: z.object(agentRegisterInput.shape),
  // The sign-up answer's fields, optional: an already configured key creates nothing and shows none.
  output: agentRegistrationObject
    .pick({ api_key_id: true, test_api_key_id: true, credit_balance: true })
    .partial()
    .extend({
      status: z
        .enum(["registered", "already_registered"])
        .describe("registered: a new account was created; already_registered: a key was already in use."),
      org_id: agentRegistrationObject.shape.org_id,
      session_environment: z.enum(["live", "test"]).describe("The environment this session now works in."),
      api_key: agentRegistrationObject.shape.api_key.optional().describe("The live key (br_live_…), shown once."),
      test_api_key: agentRegistrationObject.shape.test_api_key
        .optional()
        .describe("The test key (br_test_…), shown once; this session now uses it."),
      test_credit_balance: accountObject.shape.available_balance.optional().describe("Free test credit balance."),
      next_steps: z.array(z.string()),
    }),
  annotations: { readOnlyHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, { platform }) {
    const current = platform.keyEnvironment();
    if (current) {
      const account = await platform.getAccount();
      const data = {
        status: "already_registered",
        org_id: account.org_id,
        session_environment: current,
        next_steps: [
          `This session already uses a ${current} key of org ${account.org_id}; no new account was created.`,
          platform.transport === "stdio"
            ? "To sign up a new account instead, remove BATCHROUTER_API_KEY from this MCP server's configuration, restart it and call register_agent."
            : "To sign up a new account, call POST /v1/auth/agent-register (no key needed) and connect to /mcp with its key.",
        ],
      };
      return { data, summary: data.next_steps[0]! };
    }
    const reg = await platform.registerAndUseTestKey(args);
    const testAccount = await platform.getAccount().catch(() => null);
    const data = {
      status: "registered",
      org_id: reg.org_id,
      session_environment: "test",
      api_key: reg.api_key,
      api_key_id: reg.api_key_id,
      test_api_key: reg.test_api_key,
      test_api_key_id: reg.test_api_key_id,
      credit_balance: reg.credit_balance,
      ...(testAccount ? { test_credit_balance: testAccount.available_balance } : {}),
      next_steps: [
        "Store both keys now (e.g. in your secrets or memory): they are shown only once and cannot be recovered.",
        `This session now uses the test key: free, on the simulator${testAccount ? `, with ${testAccount.available_balance.amount} USD of test credit` : ""}. ` +
          "Try the whole path: quote_batch → submit_batch → get_batch_status (wait_seconds) → get_batch_results → send_feedback.",
        `For real providers, switch to the live key: set BATCHROUTER_API_KEY=${reg.api_key} in this MCP server's configuration and restart it, ` +
          `then ${FUNDING.replace("<org_id>", reg.org_id)}. Its live balance is ${reg.credit_balance.amount} USD.`,
      ],
    };
    return { data, summary: `Signed up org ${reg.org_id}. ${data.next_steps.join(" ")}` };
  },
});

export const getAccount = defineTool({
  name: "get_account",
  title: "Account and balances",
  description: "The account behind the key in use: org id, environment (live or test) and balances (credit, available, reserved).",
  input: z.object({}),
  output: accountObject,
  annotations: { readOnlyHint: true, openWorldHint: false },
  async run(_args, { platform }) {
    const a = await platform.getAccount();
    const tip =
      a.environment === "test"
        ? " Test mode: free, on the simulator."
        : Number(a.available_balance.amount) === 0
          ? ` No live credit yet; ${FUNDING.replace("<org_id>", a.org_id)}.`
          : "";
    return {
      data: a,
      summary: `Org ${a.org_id} (${a.environment}): ${a.available_balance.amount} USD available, ${a.reserved_balance.amount} USD reserved.${tip}`,
    };
  },
});
