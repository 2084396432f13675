import { z } from "zod";

export const fileIdParams = z.object({ id: z.string().max(64).describe("The file id (file_…).") });

export const FILE_PURPOSES = ["batch", "batch_output", "batch_errors", "batch_receipt"] as const;

export const listFilesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20).describe("Page size, 1–100."),
    cursor: z.string().max(64).optional().describe("`next_cursor` of the previous page."),
    after: z.string().max(64).optional().describe("Alias of `cursor`."),
    purpose: z
      .enum(FILE_PURPOSES)
      .optional()
      .describe("Only files of this purpose: uploaded manifests (`batch`) or a batch's output, errors or receipt."),
  })
  .transform(({ after, cursor, ...rest }) => ({ ...rest, cursor: cursor ?? after }));
export type ListFilesQuery = z.output<typeof listFilesQuery>;

/** The JSON of a file, as every files endpoint returns it. */
export const fileObject = z.object({
  id: z.string().describe("file_…"),
  object: z.literal("file"),
  purpose: z.string().describe("`batch` for an uploaded manifest; `batch_output`, `batch_errors`, `batch_receipt` for a batch's files."),
  filename: z.string(),
  bytes: z.number().int(),
  sha256: z.string().describe("SHA-256 (hex) of the stored bytes."),
  item_count: z.number().int().nullable().describe("Items of an uploaded manifest; null for other files."),
  format: z.string().nullable().describe("`native` or `openai` for a manifest; `jsonl` for batch files."),
  batch_id: z.string().nullable().describe("The batch a batch file belongs to."),
  status: z.literal("processed").describe("OpenAI's file status: a stored file is always processed."),
  created_at: z.string().describe("ISO 8601."),
  expires_at: z.string().nullable().describe("ISO 8601: when the file goes (files.create `expires_after`); null for never."),
  file_id: z.string().optional().describe("Manifests only: the id again, under the name some docs use."),
  input_file_id: z.string().optional().describe("Manifests only: the id again, as `input_file_id` for quotes and batches."),
});
