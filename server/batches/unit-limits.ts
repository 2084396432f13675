/** Items per work unit: what each protocol accepts in one provider batch (spec/providers.md). */
export const UNIT_LIMIT: Readonly<Record<string, number>> = { "openai-batch": 50_000, "anthropic-batch": 100_000, realtime: 5_000 };

export const unitLimit = (protocol: string): number => UNIT_LIMIT[protocol] ?? 10_000;
