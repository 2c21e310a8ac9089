/**
 * A Kafka endpoint that stores nothing: it answers ApiVersions, Metadata (every topic asked for exists,
 * led here, with the number of partitions its name ends with), Produce (success, the records discarded), and ListOffsets and Fetch
 * (an endless log of 1 KiB records: every fetch gets up to 8 MiB of prepared batches, their base offsets set
 * to the offset asked for). Running the load generator against it measures the client's own ceiling on this
 * machine, which is the most any broker could show it. Frames are parsed with the broker's codecs, whose
 * record fields are slices, and fetched batches come from a pool of prepared buffers, so the sink costs per
 * request and not per byte. Run as a child process: prints its port on stdout.
 */
import { createServer, type Socket } from 'node:net';
import {
  ApiKey,
  apis,
  decodeProduceRequest,
  decodeRequestHeader,
  encodeApiVersionsResponse,
  encodeMetadataResponse,
  encodeProduceResponse,
  encodeResponseHeader,
  type MetadataRequest,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../src/protocol/generated/index.js';
import { Reader, Writer } from '../src/protocol/primitives/index.js';
import { buildRecordBatch } from '../src/protocol/records/record-batch-builder.js';

/** Partitions of a topic: the number its name ends with (`sink-12`), else 12. */
function partitionsOf(topic: string): number {
  const m = /-(\d+)$/.exec(topic);
  return m ? Number(m[1]) : 12;
}
const VERSIONS = [
  { apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 9 },
  { apiKey: ApiKey.Fetch, minVersion: 4, maxVersion: 11 },
  { apiKey: ApiKey.ListOffsets, minVersion: 1, maxVersion: 5 },
  { apiKey: ApiKey.FindCoordinator, minVersion: 0, maxVersion: 2 },
  { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 12 },
  { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 },
];

let port = 0;
const nextOffset = new Map<string, bigint>();

/** Records per prepared batch, and batches per fetched partition (512 x 16 x 1 KiB: about 8 MiB). */
const FETCH_BATCH_RECORDS = 16;
const FETCH_BATCHES = 512;
const value = Buffer.alloc(1024, 0x61);
const batch = buildRecordBatch(
  Array.from({ length: FETCH_BATCH_RECORDS }, () => ({ key: null, value, timestamp: BigInt(Date.now()) })),
);
/** Prepared fetch answers; one is in use from its response's encoding until the socket has written it. */
const pool: Buffer[] = [];

function fetchRecords(offset: bigint, maxBytes: number): Buffer {
  const batches = Math.max(1, Math.min(FETCH_BATCHES, Math.floor(maxBytes / batch.length)));
  let out = pool.pop();
  if (!out) out = Buffer.concat(Array.from({ length: FETCH_BATCHES }, () => batch));
  for (let i = 0; i < batches; i++) out.writeBigInt64BE(offset + BigInt(i * FETCH_BATCH_RECORDS), i * batch.length);
  return out.subarray(0, batches * batch.length);
}

function answer(frame: Buffer, lent: Buffer[]): Buffer[] | null {
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const r = new Reader(frame);
  const header = decodeRequestHeader(r, requestHeaderVersion(apiKey, apiVersion));
  const w = new Writer();
  encodeResponseHeader(w, responseHeaderVersion(apiKey, apiVersion), { correlationId: header.correlationId });
  if (apiKey === ApiKey.ApiVersions) {
    const version = apiVersion > 3 ? 0 : apiVersion;
    encodeApiVersionsResponse(w, version, {
      errorCode: 0,
      apiKeys: VERSIONS,
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    });
  } else if (apiKey === ApiKey.Metadata) {
    const request: MetadataRequest = apis.Metadata.decodeRequest(r, apiVersion);
    encodeMetadataResponse(w, apiVersion, {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 0, host: '127.0.0.1', port, rack: null }],
      clusterId: 'sink',
      controllerId: 0,
      topics: (request.topics ?? []).map((t) => ({
        errorCode: 0,
        name: t.name,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        isInternal: false,
        partitions: Array.from({ length: partitionsOf(t.name ?? '') }, (_, p) => ({
          errorCode: 0,
          partitionIndex: p,
          leaderId: 0,
          leaderEpoch: -1,
          replicaNodes: [0],
          isrNodes: [0],
          offlineReplicas: [],
        })),
        topicAuthorizedOperations: -2147483648,
      })),
      clusterAuthorizedOperations: -2147483648,
    });
  } else if (apiKey === ApiKey.Produce) {
    const request = decodeProduceRequest(r, apiVersion);
    if (request.acks === 0) return null;
    encodeProduceResponse(w, apiVersion, {
      throttleTimeMs: 0,
      nodeEndpoints: [],
      responses: request.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => {
          const key = `${t.name}-${p.index}`;
          const baseOffset = nextOffset.get(key) ?? 0n;
          nextOffset.set(key, baseOffset + 1n);
          return {
            index: p.index,
            errorCode: 0,
            baseOffset,
            logAppendTimeMs: -1n,
            logStartOffset: 0n,
            recordErrors: [],
            errorMessage: null,
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
          };
        }),
      })),
    });
  } else if (apiKey === ApiKey.ListOffsets) {
    const request = apis.ListOffsets.decodeRequest(r, apiVersion);
    apis.ListOffsets.encodeResponse(w, apiVersion, {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: 0,
          oldStyleOffsets: [],
          timestamp: -1n,
          offset: 0n,
          leaderEpoch: -1,
        })),
      })),
    });
  } else if (apiKey === ApiKey.Fetch) {
    const request = apis.Fetch.decodeRequest(r, apiVersion);
    apis.Fetch.encodeResponse(w, apiVersion, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      nodeEndpoints: [],
      responses: request.topics.map((t) => ({
        topic: t.topic,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => {
          const records = fetchRecords(p.fetchOffset, p.partitionMaxBytes);
          lent.push(records);
          return {
            partitionIndex: p.partition,
            errorCode: 0,
            highWatermark: p.fetchOffset + 1_000_000_000_000n,
            lastStableOffset: p.fetchOffset + 1_000_000_000_000n,
            logStartOffset: 0n,
            divergingEpoch: { epoch: -1, endOffset: -1n },
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
            snapshotId: { endOffset: -1n, epoch: -1 },
            abortedTransactions: null,
            preferredReadReplica: -1,
            records,
          };
        }),
      })),
    });
  } else if (apiKey === ApiKey.FindCoordinator) {
    apis.FindCoordinator.encodeResponse(w, apiVersion, {
      throttleTimeMs: 0,
      errorCode: 15, // COORDINATOR_NOT_AVAILABLE: the sink has no groups
      errorMessage: null,
      nodeId: -1,
      host: '',
      port: -1,
      coordinators: [],
    });
  } else {
    throw new Error(`the sink does not answer API ${apiKey}`);
  }
  const chunks = w.chunks();
  let size = 0;
  for (const c of chunks) size += c.length;
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeInt32BE(size);
  return [prefix, ...chunks];
}

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let buffered: Buffer[] = [];
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    buffered.push(chunk);
    bytes += chunk.length;
    // Join the chunks only once a whole frame is there, so a large frame is copied once, not per chunk.
    if (bytes < 4) return;
    if (buffered[0]!.length < 4) buffered = [Buffer.concat(buffered, bytes)];
    if (bytes < 4 + buffered[0]!.readInt32BE(0)) return;
    const all = buffered.length === 1 ? buffered[0]! : Buffer.concat(buffered, bytes);
    let at = 0;
    socket.cork();
    while (all.length - at >= 4 && all.length - at >= 4 + all.readInt32BE(at)) {
      const size = all.readInt32BE(at);
      const lent: Buffer[] = [];
      const response = answer(all.subarray(at + 4, at + 4 + size), lent);
      if (response) {
        for (let i = 0; i < response.length - 1; i++) socket.write(response[i]!);
        // Prepared fetch buffers go back to the pool once written.
        socket.write(response[response.length - 1]!, () => {
          for (const b of lent) pool.push(Buffer.from(b.buffer, b.byteOffset, FETCH_BATCHES * batch.length));
        });
      }
      at += 4 + size;
    }
    socket.uncork();
    buffered = at < all.length ? [all.subarray(at)] : [];
    bytes = all.length - at;
  });
  socket.on('error', () => socket.destroy());
}

const server = createServer(serve);
server.listen(0, '127.0.0.1', () => {
  port = (server.address() as { port: number }).port;
  process.stdout.write(`${port}\n`);
});
