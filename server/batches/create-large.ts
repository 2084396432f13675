import type { Trx } from "../../db/connection.js";
import * as batchesQ from "../../db/queries/batches.js";
import type { BatchRow } from "../../db/queries/batches.js";
import { getFile } from "../../db/queries/files.js";
import type { Actor } from "../accounts/actor.js";
import { errors } from "../errors.js";
import { newId } from "../ids.js";
import { liveRoutesFor, presentPriceBlock, resolveConstraints } from "../quotes/service.js";
import { emitBatchEvent } from "./events.js";
import { claimQuote, deadline, openQuote, quoteTotals, reserveCredits, unpricedColumns, type BatchDeps } from "./plan.js";
import { presentBatch } from "./present.js";
import type { CreateBatchRequest } from "./schemas.js";
import { requestedWebhook, webhookForBatch, withShownSecret, type WebhookTarget } from "./webhook-target.js";

/** What the prepare job needs of the create request (kept on the batch while it validates). */
export interface PendingRequest {
  operation?: string;
  model?: string;
  max_price?: string;
  quote_id?: string;
  /** True when the quote's total was reserved at create (an items quote of this file). */
  reserved_at_create: boolean;
}

export interface AcceptOptions {
  /**
   * Runs in the create's transaction once the batch row exists: what a compatible surface stores
   * beside the manifest (the Anthropic surface's rejected requests, as items that already failed).
   */
  withBatch?: (trx: Trx, batch: BatchRow) => Promise<void>;
}

/**
 * POST /v1/batches with an `input_file_id` (spec/api.md §5, large batches): answers at once with
 * the batch `validating`, whatever the file's size. Here only what is cheap is checked — the file is
 * the caller's, the quote is open, the constraints and webhook are valid — and, for a quote made
 * for this file, its locked total is reserved now (so a short balance is a 402 at once). Reading,
 * validating, routing and writing the items is the `prepare` job's (prepare-large.ts), which moves
 * the batch on to `pending` or ends it `failed` with line-numbered errors.
 */
export async function acceptLargeBatch(deps: BatchDeps, actor: Actor, req: CreateBatchRequest, opts: AcceptOptions = {}) {
  const file = await getFile(deps.db, actor.org_id, actor.environment, req.input_file_id!);
  if (file?.purpose !== "batch" || file.item_count === null) throw errors.notFound("file");
  const requested = requestedWebhook(deps.config, req);
  const quote = await openQuote(deps.db, actor, req.quote_id);
  const constraints = quote
    ? (quote.constraints as ReturnType<typeof resolveConstraints>)
    : resolveConstraints(req, liveRoutesFor(deps, actor));
  const itemsQuote = quote && quote.kind !== "volume" ? quote : undefined;
  const pending: PendingRequest = {
    operation: req.operation ?? req.task,
    model: req.model,
    max_price: req.max_price,
    quote_id: quote?.id,
    reserved_at_create: itemsQuote !== undefined,
  };

  const batchId = newId("bat");
  const slaDeadline = deadline(constraints.sla_tier, new Date());
  let webhook: WebhookTarget | null = null;
  const row = await deps.db.transaction(async (trx) => {
    webhook = requested && (await webhookForBatch(trx, deps.secret, actor, requested));
    if (quote) await claimQuote(trx, quote, batchId);
    const reserved = itemsQuote?.total_micros ?? 0;
    if (itemsQuote) await reserveCredits(trx, actor, batchId, reserved);
    const batch = await batchesQ.insertBatch(trx, {
      id: batchId,
      org_id: actor.org_id,
      environment: actor.environment,
      status: "validating",
      quote_id: quote?.id ?? null,
      input_file_id: file.id,
      item_count: file.item_count!,
      routing_mode: constraints.routing_mode,
      sla_tier: constraints.sla_tier,
      privacy_tier: constraints.privacy_tier,
      allowed_regions: constraints.allowed_regions,
      // Priced by the prepare job — but an items quote's price is known already.
      ...unpricedColumns(constraints),
      ...(itemsQuote && {
        fee_rate_bps: itemsQuote.fee_rate_bps,
        quoted_subtotal_micros: itemsQuote.provider_subtotal_micros,
        quoted_fee_micros: itemsQuote.fee_micros,
        quoted_total_micros: reserved,
        reserved_micros: reserved,
        pricing_estimate: presentPriceBlock(quoteTotals(itemsQuote)),
      }),
      webhook_url: webhook?.url ?? null,
      webhook_secret_enc: webhook?.secretSealed ?? null,
      metadata: req.metadata ?? {},
      estimated_input_tokens: null,
      estimated_output_tokens: null,
      sla_deadline: slaDeadline,
      pending_request: { ...pending },
    });
    await opts.withBatch?.(trx, batch);
    await deps.jobs.send(trx, "prepare", { batch_id: batchId });
    await deps.jobs.send(trx, "expire", { batch_id: batchId }, { startAfter: slaDeadline });
    await emitBatchEvent(trx, deps, batch, "batch.submitted");
    return batch;
  });
  return withShownSecret(await presentBatch(deps.db, row), webhook);
}
