import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import builtinRequire from '../security/builtin-require.cjs';
import { ANONYMOUS_PRINCIPAL, rfc2253Subject } from '../security/principal.js';
import type { ListenerSasl } from '../security/sasl-config.js';
import { SaslAuthentication } from '../security/sasl-server.js';
import type { ListenerSsl } from '../security/ssl-config.js';
import { Connection, type ConnectionLimits, type FrameHandler } from './connection.js';
import {
  ConnectionQuotas,
  type ConnectionThrottleStats,
  type ListenerConnectionLimits,
  quotaAddress,
  UNLIMITED_CONNECTIONS,
} from './connection-quotas.js';
import { RequestMemoryPool } from './request-memory-pool.js';

export interface ListenerOptions extends ConnectionLimits {
  /** The listener's name (PLAINTEXT, INTERNAL, ...), which its own limits are kept under. */
  name?: string;
  host: string;
  port: number;
  /**
   * The broker's connection limits and counts, shared by its listeners (max.connections, the creation rates,
   * the per-address limits).
   */
  connectionQuotas?: ConnectionQuotas;
  /** Without `connectionQuotas`: the listener's own bound on its connections, past which they are closed. */
  maxConnections?: number;
  /** This listener's own limits (listener.name.<name>.max.connections, .max.connection.creation.rate). */
  listenerLimits?: ListenerConnectionLimits;
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

/** Sockets that may wait for a connection creation rate: Node's default listen backlog. */
export const MAX_DELAYED_CONNECTIONS = 511;

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
  private readonly connectionQuotas: ConnectionQuotas;
  private serving = false;
  /** Sockets accepted between bind() and serve(), not yet read. */
  private waiting: Socket[] = [];
  /** Sockets accepted while a creation rate holds the listener back, taken in order once it lets go. */
  private delayed: Socket[] = [];
  /** The one of `delayed` already counted in the creation rates, whose wait is running. */
  private counted: Socket | null = null;
  private acceptTimer: NodeJS.Timeout | null = null;
  /** Sockets over their address's connection_creation_rate, closed when their throttle time is up. */
  private readonly closing = new Map<Socket, NodeJS.Timeout>();
  /** Connections this listener holds (TLS handshakes included). */
  private open = 0;
  readonly throttleStats: ConnectionThrottleStats = {
    acceptThrottled: 0,
    acceptThrottleMs: 0,
    ipThrottled: 0,
    ipThrottleMs: 0,
  };

  constructor(
    private readonly options: ListenerOptions,
    private readonly handleFrame: FrameHandler,
    private readonly onError: (error: unknown, connection: Connection) => void,
  ) {
    this.requestMemory = options.requestMemory ?? new RequestMemoryPool(options.queuedMaxRequestBytes ?? -1);
    this.connectionQuotas =
      options.connectionQuotas ??
      new ConnectionQuotas({
        get maxConnections() {
          return options.maxConnections ?? UNLIMITED_CONNECTIONS;
        },
        maxConnectionCreationRate: UNLIMITED_CONNECTIONS,
        maxConnectionsPerIp: UNLIMITED_CONNECTIONS,
        maxConnectionsPerIpOverrides: new Map(),
      });
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
    // While a creation rate holds the listener back, sockets wait as in a listen backlog, which is bounded: past
    // it new connections are refused, as a full kernel backlog refuses them from Kafka's waiting acceptor.
    if (this.acceptTimer !== null && this.delayed.length >= MAX_DELAYED_CONNECTIONS) {
      socket.destroy();
      return;
    }
    // A socket that waits unread may be reset by its client meanwhile: that is no error of the broker's.
    socket.on('error', () => {});
    this.delayed.push(socket);
    this.takeDelayed();
  }

  /**
   * Takes accepted sockets in order, as Kafka's acceptor does: each is counted in the broker's and the listener's
   * connection creation rates (KIP-612), and one over a rate waits the throttle time, holding back those behind
   * it, before it is taken.
   */
  private takeDelayed(): void {
    const quotas = this.connectionQuotas;
    const limits = this.options.listenerLimits ?? {};
    while (this.acceptTimer === null && this.delayed.length > 0) {
      const socket = this.delayed[0]!;
      if (socket.destroyed) {
        this.delayed.shift();
        continue;
      }
      // max.connections (the broker's and the listener's): Kafka's acceptor waits for a slot; Node cannot leave
      // a connection in the kernel's backlog, so one past the bound is closed at once.
      if (!quotas.slotAvailable(this.open, limits, this.options.name ?? '')) {
        this.delayed.shift();
        socket.destroy();
        continue;
      }
      if (this.counted !== socket) {
        const throttleMs = quotas.recordConnection(this.options.name ?? '', limits, Date.now());
        if (throttleMs > 0) {
          this.counted = socket;
          this.throttleStats.acceptThrottled++;
          this.throttleStats.acceptThrottleMs += throttleMs;
          this.acceptTimer = setTimeout(() => {
            this.acceptTimer = null;
            this.takeDelayed();
          }, throttleMs);
          return;
        }
      }
      this.counted = null;
      this.delayed.shift();
      this.admit(socket);
    }
  }

  private admit(socket: Socket): void {
    const quotas = this.connectionQuotas;
    const address = quotaAddress(socket.remoteAddress);
    // connection_creation_rate on the address: Kafka keeps the connection unread and closes it after the
    // throttle time, so that a client reconnecting in a loop is slowed down rather than answered at once.
    const ipThrottleMs = quotas.recordAddress(address, this.options.name ?? '', Date.now());
    if (ipThrottleMs > 0) {
      this.throttleStats.ipThrottled++;
      this.throttleStats.ipThrottleMs += ipThrottleMs;
      this.closing.set(
        socket,
        setTimeout(() => {
          this.closing.delete(socket);
          socket.destroy();
        }, ipThrottleMs),
      );
      socket.on('close', () => {
        const timer = this.closing.get(socket);
        if (timer) clearTimeout(timer);
        this.closing.delete(socket);
      });
      return;
    }
    this.open++;
    const withinPerIpLimit = quotas.opened(address);
    socket.on('close', () => {
      this.open--;
      quotas.closed(address);
    });
    // max.connections.per.ip (or its override for this address): closed at once, as Kafka does.
    if (!withinPerIpLimit) {
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
    if (this.acceptTimer) clearTimeout(this.acceptTimer);
    this.acceptTimer = null;
    for (const socket of this.delayed) socket.destroy();
    this.delayed = [];
    for (const [socket, timer] of this.closing) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.closing.clear();
    for (const s of this.handshaking) s.destroy();
    for (const c of this.connections) c.close();
    await closed;
  }
}
