import { connect } from 'node:net';
import type { LiveBrokers } from '../cluster/live-brokers.js';
import type { ListenerSettings } from '../config/broker-settings.js';
import { type ApiCodecs, requestHeaderVersion, responseHeaderVersion } from '../protocol/generated/api-keys.js';
import { encodeRequestHeader } from '../protocol/generated/messages/request-header.js';
import { decodeResponseHeader } from '../protocol/generated/messages/response-header.js';
import { Reader, Writer } from '../protocol/primitives/index.js';

/** Kafka's request.timeout.ms default: an inter-broker request without an answer by then has failed. */
const INTER_BROKER_REQUEST_TIMEOUT_MS = 30_000;
/** The largest answer taken from a peer (its markers' results are small; this only bounds a broken peer). */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * Requests from this broker to another (WriteTxnMarkers), on the other broker's endpoint of this broker's first
 * PLAINTEXT listener (Kafka's default inter-broker listener: security.inter.broker.protocol=PLAINTEXT). One
 * connection per request: these requests are few (one per transaction end and broker), and a connection that
 * fails takes nothing else down with it. TLS and SASL between brokers are not supported yet.
 */
export class InterBrokerClient {
  private correlationId = 0;

  constructor(
    private readonly nodeId: number,
    private readonly listeners: readonly ListenerSettings[],
    private readonly cluster: LiveBrokers,
  ) {}

  /** Sends one request to broker `nodeId` and decodes its answer; rejects when it cannot be reached or answer. */
  async request<Req, Res>(nodeId: number, api: ApiCodecs<Req, Res>, version: number, body: Req): Promise<Res> {
    const listener = this.listeners.find((l) => !l.ssl && !l.sasl);
    if (!listener) throw new Error('inter-broker requests need a PLAINTEXT listener on every broker');
    const endpoint = this.cluster.endpoint(nodeId, listener.name);
    if (!endpoint) throw new Error(`broker ${nodeId} is not live or has no ${listener.name} listener`);
    const correlationId = ++this.correlationId;
    const w = new Writer();
    encodeRequestHeader(w, requestHeaderVersion(api.key, version), {
      requestApiKey: api.key,
      requestApiVersion: version,
      correlationId,
      clientId: `broker-${this.nodeId}`,
    });
    api.encodeRequest(w, version, body);
    const payload = w.toBuffer();
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(payload.length);
    const frame = await exchange(endpoint.host, endpoint.port, Buffer.concat([prefix, payload]));
    const r = new Reader(frame);
    const header = decodeResponseHeader(r, responseHeaderVersion(api.key, version));
    if (header.correlationId !== correlationId) throw new Error(`broker ${nodeId} answered another request`);
    return api.decodeResponse(r, version);
  }
}

/** Writes `request` on a new connection and resolves with the first response frame (without its size). */
function exchange(host: string, port: number, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let buffered: Buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(INTER_BROKER_REQUEST_TIMEOUT_MS, () =>
      fail(new Error(`no answer from ${host}:${port} within ${INTER_BROKER_REQUEST_TIMEOUT_MS} ms`)),
    );
    socket.once('error', fail);
    socket.once('close', () => reject(new Error(`${host}:${port} closed the connection before answering`)));
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const size = buffered.readInt32BE(0);
      if (size < 0 || size > MAX_RESPONSE_BYTES)
        return fail(new Error(`${host}:${port} sent a frame of ${size} bytes`));
      if (buffered.length < 4 + size) return;
      resolve(buffered.subarray(4, 4 + size));
      socket.destroy();
    });
    socket.write(request);
  });
}
