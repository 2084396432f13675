import { z } from "zod";

/** Hourly clean-up of expired idempotency records and rate-limit counters. */
export const housekeeping = {
  name: "housekeeping.purge",
  cron: "17 * * * *",
  payload: z.object({}).passthrough(),
} as const;
