import { z } from "zod";

export const SCOPES = ["quote", "submit", "read", "cancel", "feedback", "billing", "keys"] as const;
export type Scope = (typeof SCOPES)[number];

export const environmentSchema = z
  .enum(["live", "test"])
  .describe("`live` spends real credits; `test` runs only on the simulator with a free test balance.");

export const agentRegisterInput = z
  .object({
    agent_name: z.string().trim().min(1).max(200).optional().describe("A name for the agent; becomes the organisation's name."),
    email: z.string().email().max(320).optional().describe("Optional: also create a login user with this email (verification required)."),
    password: z
      .string()
      .min(10)
      .max(200)
      .optional()
      .describe("Password for the login user; required with `email`, at least 10 characters."),
  })
  .strict()
  .refine((v) => (v.email === undefined) === (v.password === undefined), {
    message: "`email` and `password` go together",
    path: ["password"],
  });

export const createKeyInput = z
  .object({
    name: z.string().trim().min(1).max(200).optional().describe("A label to tell keys apart."),
    label: z.string().trim().min(1).max(200).optional().describe("Alias of `name`."),
    scopes: z.array(z.enum(SCOPES)).min(1).optional().describe("What the key may do; default: every scope."),
    expires_at: z.iso.datetime({ offset: true }).optional().describe("When the key stops working (ISO 8601, in the future)."),
    environment: environmentSchema.optional().describe("Default: the environment of the key making the request."),
  })
  .strict();

export const rotateKeyInput = z
  .object({
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(24 * 3600)
      .describe("How long the old secret keeps working; 0 ends it at once. Default 24 h."),
  })
  .strict();

export const keyIdParams = z.object({ id: z.string().max(64).describe("The API key id (key_…).") });

export type AgentRegisterInput = z.infer<typeof agentRegisterInput>;
export type CreateKeyInput = z.infer<typeof createKeyInput>;
