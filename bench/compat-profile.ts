import type { Db } from "../db/connection.js";
import { BOSS_SCHEMA } from "../server/jobs/boss.js";
import type { FakeRequest } from "./openai-fake-process.js";

/**
 * Where a batch's time went on our path, from create sent to `completed` seen by the client: the
 * pg-boss jobs of the batch (queued → started → done) and the provider fake's request log, all on
 * one clock (Date.now() of this machine). Each segment ends at the point it names and starts at the
 * one before, so together they are our "poll to completion" figure.
 */
export interface Segment {
  name: string;
  ms: number;
}

interface JobRow {
  name: string;
  created_on: Date;
  start_after: Date;
  started_on: Date | null;
  completed_on: Date | null;
}

const ms = (a: Date | number | null | undefined, b: Date | number | null | undefined) =>
  a == null || b == null ? Number.NaN : Math.round(Number(b) - Number(a));

export async function profileBatch(
  db: Db,
  run: { batch_id: string; create_answered_at: number; completed_seen_at: number },
  fakeLog: FakeRequest[],
  turnaroundMs: number,
): Promise<{ segments: Segment[]; jobs: number; work_units: number; provider_batches: number; polls_of_provider: number }> {
  const units = (await db("work_units").where({ batch_id: run.batch_id }).select("id")).map((u) => u.id as string);
  const { rows } = await db.raw<{ rows: JobRow[] }>(
    `SELECT name, created_on, start_after, started_on, completed_on FROM ${BOSS_SCHEMA}.job
      WHERE data->>'batch_id' = ? OR data->>'work_unit_id' = ANY(?) ORDER BY created_on`,
    [run.batch_id, units],
  );
  const first = (name: string) => rows.find((r) => r.name === name);
  // batch.prepare exists once a large create is accepted as `validating` and prepared by a job.
  const prepare = first("batch.prepare");
  const dispatch = first("batch.dispatch");
  const finalize = first("batch.finalize");
  // With several work units (or provider batches) each point is the latest one: the path that
  // decided when the batch could finish. The poll job that collects is each unit's last.
  const latest = (values: (Date | number | null | undefined)[]) => {
    const known = values.filter((v) => v != null).map(Number);
    return known.length ? Math.max(...known) : null;
  };
  const submits = rows.filter((r) => r.name === "wu.submit");
  const polls = rows.filter((r) => r.name === "wu.poll");
  const inWindow = fakeLog.filter((r) => r.at >= run.create_answered_at && r.at <= run.completed_seen_at);
  const uploads = inWindow.filter((r) => r.method === "POST" && r.path === "/v1/files").map((r) => r.at);
  const creates = inWindow.filter((r) => r.method === "POST" && r.path === "/v1/batches").map((r) => r.at);
  const lastCreate = latest(creates);
  // A job's created_on is its transaction's start (PostgreSQL now()), so the chain is anchored on
  // what happened (started, done, a request arriving), and consecutive points sum to the poll step.
  const points: [string, Date | number | null | undefined][] = [
    ["create answered", run.create_answered_at],
    ["prepare job started (queue pickup)", prepare?.started_on],
    ["prepare job done (validate, route, item rows)", prepare?.completed_on],
    ["dispatch job started (queue pickup)", dispatch?.started_on],
    ["dispatch job done (plan work units)", dispatch?.completed_on],
    ["submit job started (queue pickup)", latest(submits.map((j) => j.started_on))],
    ["upload reached the provider (read items, build its JSONL)", latest(uploads)],
    ["batch create reached the provider (upload)", lastCreate],
    ["submit job done (provider create, unit submitted)", latest(submits.map((j) => j.completed_on))],
    ["provider batch completed (its turnaround)", lastCreate === null ? null : lastCreate + turnaroundMs],
    ["collecting poll job started (our poll delay + pickup)", latest(polls.map((j) => j.started_on))],
    ["collecting poll job done (download, write + settle items)", latest(polls.map((j) => j.completed_on))],
    ["finalize job started (queue pickup)", finalize?.started_on],
    ["finalize job done (result files, completed)", finalize?.completed_on],
    ["client saw completed (its poll interval)", run.completed_seen_at],
  ];
  // A job that didn't run (no prepare for a small batch) drops out; the chain still sums.
  const present = points.filter(([, at]) => at != null);
  const segments = present.slice(1).map(([name, at], i) => ({ name, ms: ms(present[i]![1], at) }));
  return {
    segments,
    jobs: rows.length,
    work_units: units.length,
    provider_batches: creates.length,
    polls_of_provider: inWindow.filter((r) => r.method === "GET" && r.path.startsWith("/v1/batches/")).length,
  };
}

/** The profile as aligned text lines, for stderr. */
export function formatProfile(segments: Segment[]): string {
  const w = Math.max(...segments.map((s) => s.name.length));
  return segments.map((s) => `  ${s.name.padEnd(w)}  ${Number.isNaN(s.ms) ? "—" : `${s.ms} ms`}`).join("\n");
}
