import type { z } from "zod";
import { type AppError, fail } from "./errors.js";
import { jsonPointer } from "./json-pointer.js";

/** Zod issues as the contract's `details.errors[] = {path, message}` with JSON-Pointer paths. */
export function validationError(where: "body" | "query" | "path", error: z.ZodError): AppError {
  const errs = error.issues.map((i) => ({
    path: jsonPointer(i.path),
    message: i.message,
  }));
  const first = errs[0];
  const message = first ? `Invalid ${where}: ${first.path === "/" ? "" : `${first.path}: `}${first.message}` : `Invalid ${where}.`;
  return fail.invalidRequest(message, { location: where, errors: errs });
}
