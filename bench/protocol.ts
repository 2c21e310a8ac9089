import {
  decodeProduceRequest,
  defaultFetchResponsePartitionData,
  encodeFetchResponse,
  encodeProduceRequest,
  type FetchResponse,
  type ProduceRequest,
} from '../src/protocol/generated/index.js';
import { Reader, Writer } from '../src/protocol/primitives/index.js';
import { CompressionType, compress, decompress } from '../src/protocol/records/compression/index.js';
import { crc32c, crc32cPortable } from '../src/protocol/records/crc32c.js';
import { type BenchRow, rate } from './lib.js';

interface Context {
  memcpyMBps: number;
  minMs: number;
}

const PARTITIONS = 100;
const BATCH_BYTES = 16 * 1024;

/** JSON-like text: what compression sees in practice. */
function jsonish(bytes: number): Buffer {
  let s = '';
  for (let i = 0; s.length < bytes; i++)
    s += `{"id":${i},"user":"user-${i % 97}","event":"click","ts":${1700000000000 + i}}`;
  return Buffer.from(s.slice(0, bytes));
}

/** CRC32C, native and portable, over batch-sized and large buffers. */
export function crcSuite({ memcpyMBps, minMs }: Context): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const size of [16 * 1024, 1024 * 1024]) {
    const buf = jsonish(size);
    for (const [name, fn] of [
      ['native', crc32c],
      ['portable', crc32cPortable],
    ] as const) {
      const mbps = (rate(() => fn(buf), minMs) * size) / 1e6;
      rows.push({
        workload: `CRC32C ${name}, ${size / 1024} KiB`,
        figure: mbps,
        unit: 'MB/s',
        limit: memcpyMBps,
        limitName: 'memcpy',
      });
    }
  }
  return rows;
}

/** Compression and decompression speed of each codec on 1 MiB of JSON-like text. */
export function compressionSuite({ memcpyMBps, minMs }: Context): BenchRow[] {
  const data = jsonish(1024 * 1024);
  const rows: BenchRow[] = [];
  for (const type of [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd]) {
    const packed = compress(type, data);
    const name = CompressionType[type].toLowerCase();
    const c = (rate(() => compress(type, data), minMs) * data.length) / 1e6;
    const d = (rate(() => decompress(type, packed), minMs) * data.length) / 1e6;
    rows.push({
      workload: `${name} compress 1 MiB (ratio ${(data.length / packed.length).toFixed(1)})`,
      figure: c,
      unit: 'MB/s',
      limit: memcpyMBps,
      limitName: 'memcpy',
    });
    rows.push({
      workload: `${name} decompress 1 MiB`,
      figure: d,
      unit: 'MB/s',
      limit: memcpyMBps,
      limitName: 'memcpy',
    });
  }
  return rows;
}

/** Decode of a Produce request and encode of a Fetch response, each 100 partitions of 16 KiB batches. */
export function codecSuite({ memcpyMBps, minMs }: Context): BenchRow[] {
  const batch = jsonish(BATCH_BYTES);
  const produce: ProduceRequest = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [
      { name: 'bench', partitionData: Array.from({ length: PARTITIONS }, (_, index) => ({ index, records: batch })) },
    ],
  };
  const w = new Writer();
  encodeProduceRequest(w, 9, produce);
  const produceBytes = w.toBuffer();
  const decodeMBps = (rate(() => decodeProduceRequest(new Reader(produceBytes), 9), minMs) * produceBytes.length) / 1e6;

  const fetch: FetchResponse = {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    nodeEndpoints: [],
    responses: [
      {
        topic: 'bench',
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({
          ...defaultFetchResponsePartitionData(),
          partitionIndex,
          highWatermark: 1000n,
          lastStableOffset: 1000n,
          logStartOffset: 0n,
          records: batch,
        })),
      },
    ],
  };
  let fetchBytes = 0;
  const encodeMBps =
    (rate(() => {
      const out = new Writer();
      encodeFetchResponse(out, 12, fetch);
      fetchBytes = out.length;
      out.chunks();
    }, minMs) *
      fetchBytes) /
    1e6;
  return [
    {
      workload: `decode Produce v9 (${PARTITIONS} x 16 KiB)`,
      figure: decodeMBps,
      unit: 'MB/s',
      limit: memcpyMBps,
      limitName: 'memcpy',
    },
    {
      workload: `encode Fetch v12 (${PARTITIONS} x 16 KiB)`,
      figure: encodeMBps,
      unit: 'MB/s',
      limit: memcpyMBps,
      limitName: 'memcpy',
    },
  ];
}
