import * as batchesQ from "../../db/queries/batches.js";
import type { Actor } from "../accounts/actor.js";
import { newId } from "../ids.js";
import { prepareItems } from "../quotes/prepare.js";
import { itemsFingerprint, liveRoutesFor, resolveConstraints } from "../quotes/service.js";
import { acceptLargeBatch, type AcceptOptions } from "./create-large.js";
import { emitBatchEvent } from "./events.js";
import {
  addRoutedEvent,
  claimQuote,
  deadline,
  openQuote,
  planFromQuote,
  planNow,
  pricedColumns,
  reserveCredits,
  writeItems,
  writeWorkUnits,
  type BatchDeps,
} from "./plan.js";
import { presentBatch } from "./present.js";
import type { CreateBatchRequest } from "./schemas.js";
import { requestedWebhook, webhookForBatch, withShownSecret, type WebhookTarget } from "./webhook-target.js";

export type { BatchDeps };

/**
 * POST /v1/batches: validates and prices the items (or takes the quote's locked price), then in one
 * transaction reserves the credits, writes the batch, its work units and items, and enqueues the
 * first job — so there is never a batch without its job, or a reservation without its batch.
 */
export async function createBatch(deps: BatchDeps, actor: Actor, req: CreateBatchRequest, opts: AcceptOptions = {}) {
  if (req.input_file_id !== undefined) return acceptLargeBatch(deps, actor, req, opts);
  const snapshot = await deps.catalog.get();
  const prepared = await prepareItems(snapshot, req.items!, { operation: req.operation ?? req.task, model: req.model });
  const requested = requestedWebhook(deps.config, req);
  const quote = await openQuote(deps.db, actor, req.quote_id);
  const plan =
    quote && quote.kind !== "volume"
      ? planFromQuote(quote, itemsFingerprint(prepared.items))
      : planNow(
          snapshot,
          prepared,
          quote ? (quote.constraints as ReturnType<typeof resolveConstraints>) : resolveConstraints(req, liveRoutesFor(deps, actor)),
          req.max_price,
          quote,
        );
  const constraints = plan.constraints as ReturnType<typeof resolveConstraints>;

  const batchId = newId("bat");
  const now = new Date();
  const slaDeadline = deadline(constraints.sla_tier, now);
  let webhook: WebhookTarget | null = null;
  const row = await deps.db.transaction(async (trx) => {
    webhook = requested && (await webhookForBatch(trx, deps.secret, actor, requested));
    if (quote) await claimQuote(trx, quote, batchId);
    await reserveCredits(trx, actor, batchId, plan.totals.total);
    const batch = await batchesQ.insertBatch(trx, {
      id: batchId,
      org_id: actor.org_id,
      environment: actor.environment,
      status: "pending",
      quote_id: quote?.id ?? null,
      input_file_id: req.input_file_id ?? null,
      item_count: prepared.items.length,
      routing_mode: constraints.routing_mode,
      sla_tier: constraints.sla_tier,
      privacy_tier: constraints.privacy_tier,
      allowed_regions: constraints.allowed_regions,
      ...pricedColumns(plan),
      webhook_url: webhook?.url ?? null,
      webhook_secret_enc: webhook?.secretSealed ?? null,
      metadata: req.metadata ?? {},
      estimated_input_tokens: prepared.tokens.input,
      estimated_output_tokens: prepared.tokens.output,
      sla_deadline: slaDeadline,
      pending_request: null,
    });
    const placed = await writeWorkUnits(trx, batchId, snapshot, plan, actor.environment, prepared.items.length);
    await writeItems(
      trx,
      prepared.items.length,
      prepared.items.map((item, idx) => {
        const { operation, models } = prepared.routing.kind(idx);
        return {
          batch_id: batchId,
          idx,
          customer_item_id: item.customer_item_id,
          operation,
          models,
          item: item as unknown as Record<string, unknown>,
          ...placed(idx),
          status: "queued" as const,
        };
      }),
    );
    await addRoutedEvent(trx, batchId, quote?.id ?? null, plan);
    await deps.jobs.send(trx, "dispatch", { batch_id: batchId });
    await deps.jobs.send(trx, "expire", { batch_id: batchId }, { startAfter: slaDeadline });
    await emitBatchEvent(trx, deps, batch, "batch.submitted");
    return batch;
  });
  return withShownSecret(await presentBatch(deps.db, row), webhook);
}

/** Where the create answer (`{batch}`) carries a secret shown once: a webhook signing secret made for it. */
export const CREATE_BATCH_SECRET_FIELDS = ["batch.webhook.secret"] as const;
