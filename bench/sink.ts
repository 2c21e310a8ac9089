/**
 * A Kafka endpoint that discards what it is sent: it answers ApiVersions, Metadata (every topic asked for has
 * SINK_PARTITIONS partitions led here) and Produce (success, nothing stored). Running the load generator
 * against it measures the client's own ceiling on this machine, which is the most any broker could show it.
 * Frames are parsed with the broker's codecs, whose record fields are slices, so the sink costs per request
 * and not per byte. Run as a child process: prints its port on stdout.
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

const SINK_PARTITIONS = 12;
const VERSIONS = [
  { apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 9 },
  { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 12 },
  { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 },
];

let port = 0;
const nextOffset = new Map<string, bigint>();

function answer(frame: Buffer): Buffer | null {
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
        partitions: Array.from({ length: SINK_PARTITIONS }, (_, p) => ({
          errorCode: 0,
          partitionIndex: p,
          leaderId: 0,
          leaderEpoch: 0,
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
  } else {
    throw new Error(`the sink does not answer API ${apiKey}`);
  }
  const body = w.toBuffer();
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeInt32BE(body.length);
  return Buffer.concat([prefix, body]);
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
      const response = answer(all.subarray(at + 4, at + 4 + size));
      if (response) socket.write(response);
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
