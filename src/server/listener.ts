import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import builtinRequire from '../security/builtin-require.cjs';
import { ANONYMOUS_PRINCIPAL, rfc2253Subject } from '../security/principal.js';
import type { ListenerSasl } from '../security/sasl-config.js';
import { SaslAuthentication } from '../security/sasl-server.js';
import type { ListenerSsl } from '../security/ssl-config.js';
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
  /** Present: an SSL listener, each connection a TLS session before any Kafka frame. */
  ssl?: ListenerSsl;
  /** Present: a SASL listener (SASL_PLAINTEXT, or SASL_SSL with `ssl`), each connection authenticating first. */
  sasl?: ListenerSasl;
}

/**
 * A TCP listener: accepts connections and wraps each in a Connection. `bind()` takes the port without serving:
 * connections accepted before `serve()` wait unread, so that a broker can claim its ports before it opens its
 * logs and answer only once it is ready.
 */
export class Listener {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  /** Accepted sockets of an SSL listener (still in their handshake, or serving). */
  private readonly handshaking = new Set<Socket>();
  /** Runs the handshakes of an SSL listener; never listens itself. */
  private tlsServer: TlsServer | null = null;
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
    if ((this.options.ssl ? this.handshaking.size : this.connections.size) >= this.options.maxConnections) {
      socket.destroy();
      return;
    }
    if (this.options.ssl) {
      this.acceptTls(socket, this.options.ssl);
      return;
    }
    const connection = new Connection(socket, this.options, this.handleFrame, this.onError, this.requestMemory);
    if (this.options.sasl) connection.sasl = new SaslAuthentication(this.options.sasl);
    this.connections.add(connection);
    socket.on('close', () => this.connections.delete(connection));
    // Accepted paused (pauseOnConnect): reading starts once the connection is wired.
    socket.resume();
  }

  /**
   * Runs the TLS handshake, then serves Kafka frames over the session. A client that fails the handshake (no
   * or an untrusted certificate where one is required, plaintext bytes, a handshake left unfinished past
   * connections.max.idle.ms) is disconnected; it counts towards max.connections meanwhile. The handshake is
   * node:tls's server's, handed the accepted socket: it checks the client's certificate against the trust store.
   */
  private acceptTls(socket: Socket, ssl: ListenerSsl): void {
    if (!this.tlsServer) {
      // node:tls is loaded by the first TLS connection: a broker without SSL listeners never pays for it.
      const { createServer: createTlsServer } = builtinRequire('node:tls') as typeof import('node:tls');
      this.tlsServer = createTlsServer({
        ...ssl.contextOptions,
        requestCert: ssl.clientAuth !== 'none',
        rejectUnauthorized: ssl.clientAuth === 'required',
        handshakeTimeout: this.options.idleTimeoutMs > 0 ? this.options.idleTimeoutMs : undefined,
      });
      this.tlsServer.on('secureConnection', (tlsSocket: TLSSocket) => this.onSecure(tlsSocket, ssl));
      // A failed handshake is the client's: its socket is destroyed by node:tls, the listener carries on.
      this.tlsServer.on('tlsClientError', (_error, tlsSocket: TLSSocket) => tlsSocket.destroy());
    }
    this.handshaking.add(socket);
    socket.on('close', () => this.handshaking.delete(socket));
    this.tlsServer.emit('connection', socket);
    socket.resume();
  }

  /**
   * Serves new TLS sessions with another key store or trust store (a certificate renewed at run time, as Kafka's
   * dynamic listener configs do); sessions already up keep theirs.
   */
  updateSsl(contextOptions: ListenerSsl['contextOptions']): void {
    const ssl = this.options.ssl;
    if (!ssl) return;
    ssl.contextOptions = contextOptions;
    this.tlsServer?.setSecureContext(contextOptions);
  }

  private onSecure(tlsSocket: TLSSocket, ssl: ListenerSsl): void {
    let principal = ANONYMOUS_PRINCIPAL;
    const peer = tlsSocket.getPeerX509Certificate();
    if (peer) {
      // ssl.client.auth=requested: a certificate given must still be trusted, as Java's wantClientAuth checks it.
      if (!tlsSocket.authorized) {
        tlsSocket.destroy();
        return;
      }
      try {
        principal = `User:${ssl.principalMapper.getName(rfc2253Subject(peer))}`;
      } catch {
        // No rule of ssl.principal.mapping.rules applies: Kafka fails the authentication and disconnects.
        tlsSocket.destroy();
        return;
      }
    }
    const connection = new Connection(tlsSocket, this.options, this.handleFrame, this.onError, this.requestMemory);
    connection.principal = principal;
    // SASL_SSL: the principal is the one SASL authenticates, as in Kafka.
    if (this.options.sasl) connection.sasl = new SaslAuthentication(this.options.sasl);
    this.connections.add(connection);
    tlsSocket.on('close', () => this.connections.delete(connection));
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.waiting) socket.destroy();
    this.waiting = [];
    for (const s of this.handshaking) s.destroy();
    for (const c of this.connections) c.close();
    await closed;
  }
}
