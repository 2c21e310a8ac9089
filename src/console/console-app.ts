import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpApp } from '../observability/http-endpoint.js';
import { clusterRoute } from './api/cluster.js';
import { describeGroupRoute, listGroupsRoute, resetGroupOffsetsRoute } from './api/groups.js';
import { browseMessagesRoute } from './api/messages.js';
import { throughputRoute } from './api/throughput.js';
import {
  alterTopicConfigRoute,
  createTopicRoute,
  deleteTopicRoute,
  describeTopicRoute,
  listTopicsRoute,
} from './api/topics.js';
import { ApiError, type ApiReply, type ApiRoute } from './api-route.js';
import type { Asset } from './console-assets.js';
import type { ConsoleBackend } from './console-backend.js';
import { hostAllowed } from './host-check.js';

/** The largest request body the API reads (a topic with its configs is well under it). */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;

/**
 * The header every changing call must carry. A page of another site cannot send it without a CORS preflight,
 * which this listener never grants, so a cross-site form or script cannot change anything.
 */
export const CONSOLE_REQUEST_HEADER = 'x-samsa-console';

export const ROUTES: readonly ApiRoute[] = [
  clusterRoute,
  throughputRoute,
  listTopicsRoute,
  createTopicRoute,
  describeTopicRoute,
  deleteTopicRoute,
  alterTopicConfigRoute,
  browseMessagesRoute,
  listGroupsRoute,
  describeGroupRoute,
  resetGroupOffsetsRoute,
];

/** What the page may load and where it may connect: only this listener, no inline script. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

export interface ConsoleAppOptions {
  /** The broker's services; null until the broker serves (calls get 503 meanwhile). */
  backend: () => ConsoleBackend | null;
  /** The built page; null when it was not built. */
  assets: () => Promise<Map<string, Asset> | null>;
  readOnly: boolean;
  /**
   * Why the API is off altogether, or null. The console has no login: with an authorizer its API would let anyone
   * who reaches the HTTP listener past the ACLs, so the broker turns it off (the page and /metrics stay).
   */
  disabledReason?: string | null;
  /** Host names (lower case) the console answers to besides IP addresses (see host-check.ts). */
  allowedHosts: ReadonlySet<string>;
  onError: (message: string, error: Error) => void;
}

/**
 * The web console on samsa.http.listener: the page at `/` and `/assets/*`, and its JSON API under `/api/`.
 * Requests naming a host the console does not answer to are refused (DNS rebinding, see host-check.ts). Changing
 * calls (POST, PUT, DELETE) are refused with 403 in read-only mode, and without the console's header
 * or from another origin; their bodies must be JSON.
 */
export class ConsoleApp implements HttpApp {
  constructor(private readonly options: ConsoleAppOptions) {}

  handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (!hostAllowed(req.headers.host, this.options.allowedHosts)) {
      text(
        res,
        403,
        `the console does not answer to host ${JSON.stringify(req.headers.host ?? '')}: add it to samsa.console.allowed.hosts\n`,
      );
      return;
    }
    const done = path.startsWith('/api/') ? this.api(req, res, path) : this.page(req, res, path);
    done.catch((error: unknown) => {
      this.options.onError('console request failed', error as Error);
      if (!res.headersSent) json(res, 500, { error: 'UNKNOWN_SERVER_ERROR', message: 'the request failed' });
      else res.destroy();
    });
  }

  private async page(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      text(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    const assets = await this.options.assets();
    if (!assets) {
      text(res, 503, 'the console is not built: run `npm run build`\n');
      return;
    }
    const asset = assets.get(path);
    if (!asset) {
      text(res, 404, 'not found\n');
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzipped : asset.body;
    res.writeHead(200, {
      'content-type': asset.contentType,
      'content-length': body.length,
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      ...PAGE_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const matching = ROUTES.filter((r) => r.path.test(path));
    const route = matching.find((r) => r.method === req.method || (req.method === 'HEAD' && r.method === 'GET'));
    try {
      if (this.options.disabledReason) throw new ApiError(403, 'CONSOLE_DISABLED', this.options.disabledReason);
      if (matching.length === 0) throw new ApiError(404, 'NOT_FOUND', `no API at ${path}`);
      if (!route) {
        res.setHeader('allow', [...new Set(matching.map((r) => r.method))].join(', '));
        throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}`);
      }
      let body: unknown;
      if (route.changes) {
        this.checkChangeAllowed(req);
        body = await readJsonBody(req, route.method !== 'DELETE');
      }
      const backend = this.options.backend();
      if (!backend) throw new ApiError(503, 'BROKER_NOT_AVAILABLE', 'the broker is starting or stopping');
      const params = route.path.exec(path)!.slice(1).map(decodeURIComponent);
      const reply: ApiReply = await route.handle(backend, { params, query: url.searchParams, body });
      json(res, reply.status, reply.body);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      json(res, e.status, { error: e.error, message: e.message });
    }
  }

  /** Read-only mode, and the guard against cross-site requests. */
  private checkChangeAllowed(req: IncomingMessage): void {
    if (this.options.readOnly)
      throw new ApiError(403, 'READ_ONLY', 'the console is read-only (samsa.console.read.only=true)');
    if (!req.headers[CONSOLE_REQUEST_HEADER])
      throw new ApiError(403, 'CROSS_SITE_REQUEST', `changing calls must carry the ${CONSOLE_REQUEST_HEADER} header`);
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let host: string | null = null;
      try {
        host = new URL(origin).host;
      } catch {
        // an origin that is no URL matches no host
      }
      if (host !== req.headers.host)
        throw new ApiError(403, 'CROSS_SITE_REQUEST', `requests from ${origin} may not change anything here`);
    }
  }
}

/** The JSON body of a changing call, within MAX_REQUEST_BODY_BYTES; undefined when it may be and is empty. */
async function readJsonBody(req: IncomingMessage, required: boolean): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REQUEST_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  if (size === 0 && !required) return undefined;
  const type = String(req.headers['content-type'] ?? '')
    .split(';', 1)[0]!
    .trim();
  if (type !== 'application/json')
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'INVALID_REQUEST', 'the body is not valid JSON');
  }
}

function tooLarge(): ApiError {
  return new ApiError(413, 'REQUEST_TOO_LARGE', `the body may have at most ${MAX_REQUEST_BODY_BYTES} bytes`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': bytes.length,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
