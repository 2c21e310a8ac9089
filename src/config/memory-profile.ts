/**
 * samsa.memory.profile: one key that sizes the broker's memory for the machine it runs on. Kafka has no such key
 * (its memory is the JVM heap, set by KAFKA_HEAP_OPTS, plus the page cache); Redpanda sizes itself from one
 * `--memory` flag. A profile sets the configs below to its values where server.properties (or --override) leaves
 * them unset: a key that is set still wins. `samsa server` also gives V8 the profile's flags at start-up.
 */
export const MEMORY_PROFILES = ['default', 'small'] as const;
export type MemoryProfile = (typeof MEMORY_PROFILES)[number];

export interface MemoryProfileValues {
  /** Broker configs, as server.properties would set them. */
  configs: Readonly<Record<string, string>>;
  /** V8 flags set by `samsa server` (v8.setFlagsFromString) before the broker starts. */
  v8Flags: readonly string[];
}

const MiB = 1024 * 1024;

/**
 * `small`: a machine of 512 MB, with the operating system and the page cache beside the broker. Measured
 * (bench/memory.ts): RSS under a sustained produce and consume load about 100 MB, against about 160 MB with
 * the defaults.
 */
const SMALL: MemoryProfileValues = {
  configs: {
    // Request bytes held across all connections before reading stops (Samsa's default 100 MiB). One frame may
    // still pass it, so a client's largest request (socket.request.max.bytes) is never refused for it.
    'queued.max.request.bytes': String(16 * MiB),
    // Recent batches kept for tailing consumers (16 MiB by default): a few seconds of a producer on such a machine.
    'samsa.log.tail.cache.bytes': String(8 * MiB),
    // Memory kept for reuse by large segment reads of catching-up consumers (64 MiB by default).
    'samsa.log.read.buffer.pool.bytes': String(8 * MiB),
    // Record bytes in one Fetch response (Kafka's 55 MiB), read into memory before they are sent; at least one
    // batch is always returned, so no consumer is stuck.
    'fetch.max.bytes': String(16 * MiB),
  },
  // V8's young generation grows to tens of MB under load by default; this flag, which V8 reads while running,
  // keeps it and the old generation's growth small (heap under load 48 -> 19 MB measured), for more frequent
  // collections.
  v8Flags: ['--optimize-for-size'],
};

/**
 * `default`: the configs' own defaults, and a larger growth of V8's old generation between full collections.
 * V8 counts a broker's record buffers (ArrayBuffer memory: request frames, converted batches, the tail cache's
 * slabs) in the old generation's size, and by default starts a full collection once it has grown by about its live
 * size again; the live size is a few MB, so under load it collected every ~150 ms. Growing 4 times the live size
 * before the next (a growth of 300%) took Kafka's Java client 0.9's produce from 38 to 8 full collections per 2
 * million records, for about 18 MB more peak RSS (docs/PERFORMANCE.md, "Garbage collection and the heap growth").
 * The small profile leaves V8's default: there memory is what counts.
 */
const DEFAULT: MemoryProfileValues = {
  configs: {},
  v8Flags: ['--heap-growing-percent=300'],
};

const VALUES: Record<MemoryProfile, MemoryProfileValues> = {
  default: DEFAULT,
  small: SMALL,
};

export function memoryProfileValues(profile: MemoryProfile): MemoryProfileValues {
  return VALUES[profile];
}

export function isMemoryProfile(text: string): text is MemoryProfile {
  return (MEMORY_PROFILES as readonly string[]).includes(text);
}

/**
 * The configuration as written (`raw`) with the profile's configs added where it leaves them unset. An unknown
 * profile name is left for validation to report.
 */
export function withMemoryProfile(raw: ReadonlyMap<string, string>): Map<string, string> {
  const result = new Map(raw);
  const profile = raw.get('samsa.memory.profile')?.trim();
  if (profile === undefined || !isMemoryProfile(profile)) return result;
  for (const [key, value] of Object.entries(VALUES[profile].configs)) if (!result.has(key)) result.set(key, value);
  return result;
}
