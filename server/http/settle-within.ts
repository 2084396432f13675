/**
 * `op`'s value once it settles, or null if `ms` pass first. The operation goes on either way (a
 * database round trip can't be recalled); the caller just stops waiting for it.
 */
export async function settleWithin<T>(op: Promise<T>, ms: number): Promise<{ value: T } | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), ms);
  });
  try {
    return await Promise.race([op.then((value) => ({ value })), late]);
  } finally {
    clearTimeout(timer);
  }
}
