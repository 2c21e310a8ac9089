import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '../../src/protocol/records/crc32c.js';
import type { LogConfig } from '../../src/storage/partition-log.js';

/**
 * A valid v2 record batch of `count` records of `valueBytes` each (record bodies are opaque filler: the
 * log never looks inside them), with base offset 0 as a producer sends it. The header's byte positions are
 * written out from Kafka's layout rather than taken from batch-header.ts, so that a wrong constant there fails
 * the tests instead of being shared by them.
 */
export function makeBatch(count: number, maxTimestamp: number, valueBytes = 10): Buffer {
  const body = Buffer.alloc(count * valueBytes, 0x61);
  const batch = Buffer.alloc(61 + body.length);
  batch.writeBigInt64BE(0n, 0);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(-1, 12); // partition leader epoch
  batch.writeInt8(2, 16); // magic
  batch.writeInt16BE(0, 21); // attributes
  batch.writeInt32BE(count - 1, 23); // last offset delta
  batch.writeBigInt64BE(BigInt(maxTimestamp), 27);
  batch.writeBigInt64BE(BigInt(maxTimestamp), 35);
  batch.writeBigInt64BE(-1n, 43); // producer id
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(count, 57);
  body.copy(batch, 61);
  batch.writeUInt32BE(crc32c(batch, 21), 17);
  return batch;
}

/** Base offsets of the batches in a buffer of whole batches. */
export function batchOffsets(records: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 0; at < records.length; at += 12 + records.readInt32BE(at + 8)) {
    offsets.push(Number(records.readBigInt64BE(at)));
  }
  return offsets;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `batch` re-stamped as an idempotent producer's batch (producer id, epoch, base sequence), CRC recomputed. */
export function withProducer(
  batch: Buffer,
  producerId: bigint,
  epoch: number,
  baseSequence: number,
  transactional = false,
): Buffer {
  const b = Buffer.from(batch);
  if (transactional) b.writeInt16BE(b.readInt16BE(21) | 0x10, 21);
  b.writeBigInt64BE(producerId, 43);
  b.writeInt16BE(epoch, 51);
  b.writeInt32BE(baseSequence, 53);
  b.writeUInt32BE(crc32c(b, 21), 17);
  return b;
}

/** A log config for tests: one large segment, kept forever, an index entry every 4 KiB; `overrides` change it. */
export function testLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    segmentBytes: 1 << 30,
    segmentMs: 7 * 24 * 3600_000,
    retentionMs: -1,
    retentionBytes: -1,
    indexIntervalBytes: 4096,
    flushMessages: Number.POSITIVE_INFINITY,
    ...overrides,
  };
}
