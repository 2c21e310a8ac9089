import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * More of the listener's paths, served by a layer above (the web console): everything but /metrics and
 * /health/* goes to it, whatever the method.
 */
export interface HttpApp {
  handle(req: IncomingMessage, res: ServerResponse, path: string): void;
}

export interface HttpEndpointOptions {
  host: string;
  port: number;
  /** The registry /metrics is written from (made on the first scrape). */
  registry: () => Promise<Registry>;
  /** Whether the broker serves clients: logs recovered, listeners serving, not stopping. */
  ready: () => boolean;
  onError: (message: string, error: Error) => void;
  /** The other paths; without it they are 404. */
  app?: HttpApp;
}

/**
 * The broker's HTTP listener (samsa.http.listener): `/metrics` in Prometheus' text format, `/health/live`
 * (200 while the process answers) and `/health/ready` (200 while the broker serves, 503 before and while it
 * stops), for Prometheus and for a supervisor's liveness and readiness probes, read-only (GET and HEAD). Every
 * other path goes to the app, when there is one.
 */
export class HttpEndpoint {
  private readonly server: Server;

  constructor(private readonly options: HttpEndpointOptions) {
    this.server = createServer((req, res) => this.handle(req, res));
    // A probe or scraper keeping its connection open must not hold a stop.
    this.server.keepAliveTimeout = 5_000;
  }

  /** Binds; resolves with the bound port (useful with port 0). Fails with the socket error. */
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

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const own = path === '/metrics' || path.startsWith('/health/');
    if (!own && this.options.app) {
      this.options.app.handle(req, res, path);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/health/live':
        this.send(res, 200, 'live\n');
        return;
      case '/health/ready':
        if (this.options.ready()) this.send(res, 200, 'ready\n');
        else this.send(res, 503, 'not ready\n');
        return;
      case '/metrics':
        this.metrics(res);
        return;
      default:
        this.send(res, 404, 'not found: /metrics, /health/live and /health/ready are served here\n');
    }
  }

  private metrics(res: ServerResponse): void {
    this.options
      .registry()
      .then(async (registry) => ({ text: await registry.metrics(), contentType: registry.contentType }))
      .then(
        ({ text, contentType }) => this.send(res, 200, text, { 'content-type': contentType }),
        (error: unknown) => {
          this.options.onError('metrics scrape failed', error as Error);
          this.send(res, 500, 'metrics scrape failed\n');
        },
      );
  }

  private send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
      'content-length': Buffer.byteLength(body),
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}
