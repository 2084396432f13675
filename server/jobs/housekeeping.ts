import { z } from "zod";

/** Hourly clean-up of expired idempotency records and rate-limit counters. */
export const housekeeping = {
  name: "housekeeping.purge",
  cron: "17 * * * *",
  payload: z.object({}).passthrough(),
} as const;

/** Every 5 minutes: re-send the next step of batches that have not moved for a while. */
export const reviveBatches = {
  name: "batches.revive",
  cron: "*/5 * * * *",
} as const;
