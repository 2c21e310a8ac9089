import { connect, createServer, type Server, type Socket } from 'node:net';

/** Kafka's API key of Produce. */
const PRODUCE = 0;

/**
 * A TCP proxy in front of a broker that loses Produce responses: the n-th one (counting from 1) is swallowed
 * when `drop(n)` says so, and both connections are cut, as when a network fails after the broker wrote the
 * batch. The client sees no answer and must retry; an idempotent producer's retry must not write the batch
 * twice. `onDrop` lets a test do more at that moment (kill the broker).
 */
export class DroppingProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private produceResponses = 0;
  /** How many Produce responses were swallowed. */
  dropped = 0;
  port = 0;

  constructor(
    private readonly target: () => { host: string; port: number },
    private readonly drop: (n: number) => boolean,
    private readonly onDrop: () => void = () => {},
  ) {}

  async listen(): Promise<number> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  private accept(client: Socket): void {
    const { host, port } = this.target();
    const upstream = connect(port, host);
    this.sockets.add(client).add(upstream);
    const apiKeyOf = new Map<number, number>();
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', cut).on('error', cut);
    upstream.on('close', cut).on('error', cut);
    client.on(
      'data',
      frames((frame) => {
        apiKeyOf.set(frame.readInt32BE(8), frame.readInt16BE(4));
        upstream.write(frame);
      }),
    );
    upstream.on(
      'data',
      frames((frame) => {
        const correlationId = frame.readInt32BE(4);
        if (apiKeyOf.get(correlationId) === PRODUCE && this.drop(++this.produceResponses)) {
          this.dropped++;
          cut();
          this.onDrop();
          return;
        }
        apiKeyOf.delete(correlationId);
        client.write(frame);
      }),
    );
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Splits a byte stream into whole size-prefixed Kafka frames (prefix included). */
function frames(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = 4 + pending.readInt32BE(0);
      onFrame(pending.subarray(0, size));
      pending = pending.subarray(size);
    }
  };
}
