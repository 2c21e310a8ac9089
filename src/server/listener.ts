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
  /** A pool shared with other listeners, so that the bound holds across all of a broker's connections. */
  requestMemory?: RequestMemoryPool;
}

/**
 * A TCP listener: accepts connections and wraps each in a Connection. `bind()` takes the port without serving:
 * connections accepted before `serve()` wait unread, so that a broker can claim its ports before it opens its
 * logs and answer only once it is ready.
 */
export class Listener {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  readonly requestMemory: RequestMemoryPool;
  private serving = false;
  /** Sockets accepted between bind() and serve(), not yet read. */
  private waiting: Socket[] = [];

  constructor(
    private readonly options: ListenerOptions,
    private readonly handleFrame: FrameHandler,
    private readonly onError: (error: unknown, connection: Connection) => void,
  ) {
    this.requestMemory = options.requestMemory ?? new RequestMemoryPool(options.queuedMaxRequestBytes ?? -1);
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  /** Binds and serves; resolves with the bound port (useful when asked for port 0). */
  async listen(): Promise<number> {
    const port = await this.bind();
    this.serve();
    return port;
  }

  /** Serves connections, including those that arrived since bind(). */
  serve(): void {
    this.serving = true;
    const waiting = this.waiting;
    this.waiting = [];
    for (const socket of waiting) if (!socket.destroyed) this.accept(socket);
  }

  /** Takes the port; resolves with the bound port. Fails with the socket error (EADDRINUSE, EACCES, ...). */
  bind(): Promise<number> {
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
    if (!this.serving) {
      this.waiting.push(socket);
      return;
    }
    if (this.connections.size >= this.options.maxConnections) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, this.options, this.handleFrame, this.onError, this.requestMemory);
    this.connections.add(connection);
    socket.on('close', () => this.connections.delete(connection));
    // Accepted paused (pauseOnConnect): reading starts once the connection is wired.
    socket.resume();
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.waiting) socket.destroy();
    this.waiting = [];
    for (const c of this.connections) c.close();
    await closed;
  }
}
