/**
 * The o200k_base tokenizer the simulator counts and cuts text with, loaded on first use: its tables
 * are ~50 MB of memory that a process which never runs a simulated batch should not carry. The
 * simulator's entry points (submit, collect) await `loadO200k()`; the synchronous helpers below them
 * then use `o200k()`.
 */
type O200k = typeof import("gpt-tokenizer/encoding/o200k_base");

let loaded: O200k | undefined;
let loading: Promise<O200k> | undefined;

export async function loadO200k(): Promise<void> {
  if (loaded) return;
  loading ??= import("gpt-tokenizer/encoding/o200k_base").then(
    (m) => (loaded = m),
    (err: unknown) => {
      loading = undefined; // tried again at the next use, not cached
      throw err;
    },
  );
  await loading;
}

export function o200k(): O200k {
  if (!loaded) throw new Error("the o200k tokenizer is not loaded yet: await loadO200k() at the simulator's entry point");
  return loaded;
}
