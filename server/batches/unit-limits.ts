/**
 * Items per work unit. A provider batch takes more (OpenAI 50,000 requests, Anthropic 100,000 —
 * spec/providers.md), but a work unit is also what a worker holds in memory while it submits or
 * collects it, and what a retry repeats: 10,000 keeps a worker's memory flat whatever the batch's
 * size (a million-item batch is 100 units, never more than a few in hand at once) and still fills
 * a provider batch with plenty. Real-time lanes go in smaller units, so their pools interleave.
 */
export const UNIT_LIMIT: Readonly<Record<string, number>> = { "openai-batch": 10_000, "anthropic-batch": 10_000, realtime: 5_000 };

export const unitLimit = (protocol: string): number => UNIT_LIMIT[protocol] ?? 10_000;
