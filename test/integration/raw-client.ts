import { connect, type Socket } from 'node:net';
import {
  type ApiCodecs,
  decodeResponseHeader,
  encodeRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../src/protocol/generated/index.js';
import type { FetchRequest, FetchRequestFetchPartition } from '../../src/protocol/generated/messages/fetch-request.js';
import { Reader, Writer } from '../../src/protocol/primitives/index.js';

/** A minimal client over one socket, built on the generated codecs: for tests that send exact bytes. */
export class RawClient {
  private buffered = Buffer.alloc(0);
  private waiters: Array<(frame: Buffer) => void> = [];
  private correlationId = 0;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        const frame = this.buffered.subarray(4, 4 + size);
        this.buffered = this.buffered.subarray(4 + size);
        this.waiters.shift()?.(frame);
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
  }

  /**
   * `host`: the broker's address (a broker in a network namespace has its own); `localAddress`: the address the
   * connection comes from (another loopback address stands for another client).
   */
  static async connect(port: number, options: { host?: string; localAddress?: string } = {}): Promise<RawClient> {
    const { host = '127.0.0.1', localAddress } = options;
    const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  /** Sends bytes as they are (with no size prefix added). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next response frame; rejects if the broker closes the connection first. */
  nextFrame(): Promise<Buffer> {
    return Promise.race([
      new Promise<Buffer>((resolve) => this.waiters.push(resolve)),
      this.closed.then(() => {
        throw new Error('connection closed by the broker');
      }),
    ]);
  }

  /** Sends a request that gets no response (Produce with acks=0). */
  send<Req, Res>(api: ApiCodecs<Req, Res>, version: number, body: Req): void {
    this.socket.write(this.encode(api, version, body, ++this.correlationId));
  }

  private encode<Req, Res>(api: ApiCodecs<Req, Res>, version: number, body: Req, correlationId: number): Buffer {
    const w = new Writer();
    encodeRequestHeader(w, requestHeaderVersion(api.key, version), {
      requestApiKey: api.key,
      requestApiVersion: version,
      correlationId,
      clientId: 'raw-test',
    });
    api.encodeRequest(w, version, body);
    const payload = w.toBuffer();
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(payload.length);
    return Buffer.concat([prefix, payload]);
  }

  /** Sends a request and decodes its response. */
  async request<Req, Res>(api: ApiCodecs<Req, Res>, version: number, body: Req): Promise<Res> {
    const correlationId = ++this.correlationId;
    const response = this.nextFrame();
    this.socket.write(this.encode(api, version, body, correlationId));
    const r = new Reader(await response);
    const header = decodeResponseHeader(r, responseHeaderVersion(api.key, version));
    if (header.correlationId !== correlationId) throw new Error('correlation id mismatch');
    return api.decodeResponse(r, version);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A Fetch request for partition 0 of `topic` from offset 0, as a consumer (replica id -1) sends it with no wait;
 * `request` and `partition` change the request's and the partition's fields (a follower's replica id, an epoch).
 */
export function fetchRequest(
  topic: string,
  request: Partial<FetchRequest> = {},
  partition: Partial<FetchRequestFetchPartition> = {},
): FetchRequest {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: '00000000-0000-0000-0000-000000000000',
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
            ...partition,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
    ...request,
  };
}
