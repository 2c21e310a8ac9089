import { createServer, type Server, type Socket } from 'node:net';
import { Connection, type ConnectionLimits, type FrameHandler } from './connection.js';
import { RequestMemoryPool } from './request-memory-pool.js';

export interface ListenerOptions extends ConnectionLimits {
  host: string;
  port: number;
  /** Accepted connections past this are closed at once (max.connections). */
  maxConnections: number;
  /**
   * queued.max.request.bytes: memory for request bytes (arriving or being handled) across all connections,
   * past which connections stop being read; <= 0 or absent, no bound (see RequestMemoryPool).
   */
  queuedMaxRequestBytes?: number;
}

/** A TCP listener: accepts connections and wraps each in a Connection. */
export class Listener {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  readonly requestMemory: RequestMemoryPool;

  constructor(
    private readonly options: ListenerOptions,
    private readonly handleFrame: FrameHandler,
    private readonly onError: (error: unknown, connection: Connection) => void,
  ) {
    this.requestMemory = new RequestMemoryPool(options.queuedMaxRequestBytes ?? -1);
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Starts listening; resolves with the bound port (useful when asked for port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.host || undefined, port: this.options.port }, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : this.options.port);
      });
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.options.maxConnections) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, this.options, this.handleFrame, this.onError, this.requestMemory);
    this.connections.add(connection);
    socket.on('close', () => this.connections.delete(connection));
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.close();
    await closed;
  }
}
