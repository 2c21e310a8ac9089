import { connect, type Socket } from 'node:net';
import {
  type ApiCodecs,
  decodeResponseHeader,
  encodeRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../src/protocol/generated/index.js';
import { Reader, Writer } from '../src/protocol/primitives/index.js';

/** A minimal Kafka client over one socket, on the generated codecs: for timing single requests exactly. */
export class WireClient {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiters: Array<{ resolve: (frame: Buffer) => void; reject: (e: Error) => void }> = [];
  private correlationId = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        const frame = this.buffered.subarray(4, 4 + size);
        this.buffered = this.buffered.subarray(4 + size);
        this.waiters.shift()?.resolve(frame);
      }
    });
    const fail = () => {
      for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed'));
    };
    socket.on('close', fail);
    socket.on('error', fail);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a request and decodes its response. */
  async request<Req, Res>(api: ApiCodecs<Req, Res>, version: number, body: Req): Promise<Res> {
    const correlationId = ++this.correlationId;
    const w = new Writer();
    encodeRequestHeader(w, requestHeaderVersion(api.key, version), {
      requestApiKey: api.key,
      requestApiVersion: version,
      correlationId,
      clientId: 'samsa-bench',
    });
    api.encodeRequest(w, version, body);
    const payload = w.toBuffer();
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(payload.length);
    const frame = new Promise<Buffer>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.socket.write(Buffer.concat([prefix, payload]));
    const r = new Reader(await frame);
    decodeResponseHeader(r, responseHeaderVersion(api.key, version));
    return api.decodeResponse(r, version);
  }

  close(): void {
    this.socket.destroy();
  }
}
