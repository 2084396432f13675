import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * One JSON line per event. The redact list is a second line of defence: code never logs keys,
 * secrets, passwords or prompt text in the first place.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "batchrouter" },
      redact: {
        paths: [
          "authorization",
          "*.authorization",
          "headers.authorization",
          "req.headers.authorization",
          "req.headers.cookie",
          "api_key",
          "*.api_key",
          "secret",
          "*.secret",
          "password",
          "*.password",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
