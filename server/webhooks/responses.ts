import { z } from "zod";
import { webhookEventSchema } from "../catalog/types.js";
import { listOf, timestamp } from "../responses.js";

/** One delivery of a batch event and its attempts (server/webhooks/deliveries.ts `presentDelivery`). */
export const webhookDeliveryObject = z.object({
  id: z.string().describe("evt_…: the event id, also the `webhook-id` header."),
  object: z.literal("webhook_delivery"),
  type: webhookEventSchema,
  url: z.string(),
  status: z.enum(["pending", "delivered", "failed"]).describe("pending while attempts remain; failed after the last one."),
  attempts: z.number().int(),
  attempt_log: z.array(
    z.object({
      at: timestamp(),
      status_code: z.number().int().optional().describe("The receiver's HTTP status, when it answered."),
      error: z.string().optional().describe("Why the attempt got no answer: timeout, connection refused, refused address…"),
      ms: z.number().describe("Duration in milliseconds."),
    }),
  ),
  created_at: timestamp(),
  delivered_at: timestamp().nullable(),
});

/** GET /v1/batches/{id}/webhook-deliveries, newest first. */
export const webhookDeliveryList = listOf(webhookDeliveryObject);
