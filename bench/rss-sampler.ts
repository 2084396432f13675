/**
 * Peak resident memory of this process over a run. A busy event loop fires timers late, so the
 * caller also calls `sample()` from its own loop.
 */
export function rssSampler(intervalMs = 20) {
  const start = process.memoryUsage.rss();
  let peak = start;
  const sample = (): void => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) peak = rss;
  };
  const timer = setInterval(sample, intervalMs);
  const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  return {
    sample,
    /** Stops sampling; the figures so far in MB. */
    stop() {
      clearInterval(timer);
      sample();
      return { start_rss_mb: mb(start), peak_rss_mb: mb(peak) };
    },
  };
}
