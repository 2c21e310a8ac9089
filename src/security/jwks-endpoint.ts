/**
 * A JWKS fetched over HTTP(S) (`sasl.oauthbearer.jwks.endpoint.url=https://...`), as Kafka's RefreshingHttpsJwks
 * keeps it: fetched at start-up (a broker that cannot get it does not start), fetched again every
 * `sasl.oauthbearer.jwks.endpoint.refresh.ms`, and at once when a token names a key id the set lacks (a key
 * rotated in), at most once a minute per key id and for a bounded number of ids, so that tokens naming made-up
 * ids cannot make the broker hammer the identity provider. Each fetch is retried with a backoff from
 * `.retry.backoff.ms` doubling until `.retry.backoff.max.ms` has passed; a refresh that still fails keeps the
 * last good set.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestOptions } from 'node:https';
import builtinRequire from './builtin-require.cjs';
import { JsonWebKeySet, JwsError } from './jws.js';

/** Kafka's defaults for the sasl.oauthbearer.jwks.endpoint.* settings. */
export const DEFAULT_JWKS_REFRESH_MS = 3_600_000;
export const DEFAULT_JWKS_RETRY_BACKOFF_MS = 100;
export const DEFAULT_JWKS_RETRY_BACKOFF_MAX_MS = 10_000;

/** RefreshingHttpsJwks' limits on refreshes asked for by unknown key ids. */
const MISSING_KEY_ID_CACHE_MAX_ENTRIES = 16;
const MISSING_KEY_ID_CACHE_IN_FLIGHT_MS = 60_000;
const MISSING_KEY_ID_MAX_KEY_LENGTH = 1_000;

/** A key set is small; a larger answer is not a JWKS. */
const MAX_JWKS_BYTES = 1024 * 1024;
/** One fetch's bound, connection and answer together. */
const JWKS_FETCH_TIMEOUT_MS = 10_000;

export interface JwksEndpointOptions {
  refreshMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** For https: the trusted certificates (PEM) instead of Node's, and whether the host name is checked. */
  ca?: string[];
  checkHostName?: boolean;
}

export class JwksEndpointError extends Error {
  override readonly name = 'JwksEndpointError';
}

export class JwksEndpoint {
  keys: JsonWebKeySet = new JsonWebKeySet({ keys: [] });
  private refreshTimer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private closed = false;
  private onRefreshFailed: (error: Error) => void = () => {};
  /** Key ids that asked for a refresh, and when: each may ask again after MISSING_KEY_ID_CACHE_IN_FLIGHT_MS. */
  private readonly missingKeyIds = new Map<string, number>();
  /** Completed fetches, good or not (for tests and logs). */
  fetches = 0;

  constructor(
    private readonly key: string,
    private readonly url: URL,
    private readonly options: JwksEndpointOptions,
  ) {}

  /**
   * The first fetch, with its retries; rejects with the reason when the set cannot be had. Later refreshes that
   * fail are told to `onRefreshFailed` (the last good set is kept).
   */
  async start(onRefreshFailed: (error: Error) => void = () => {}): Promise<void> {
    this.onRefreshFailed = onRefreshFailed;
    try {
      this.keys = await this.fetchWithRetries();
    } catch (e) {
      throw new JwksEndpointError(`${this.key}=${this.url.href}: cannot get the JWKS: ${(e as Error).message}`);
    }
    this.scheduleRefresh();
  }

  close(): void {
    this.closed = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /**
   * A token named a key id the set lacks: fetch again now, unless this id asked less than a minute ago, or too
   * many ids are waiting (RefreshingHttpsJwks.maybeExpediteRefresh). The token at hand is refused either way.
   */
  expediteRefresh(kid: string): void {
    if (this.closed || kid.length > MISSING_KEY_ID_MAX_KEY_LENGTH) return;
    const nowMs = Date.now();
    for (const [id, at] of this.missingKeyIds)
      if (nowMs - at >= MISSING_KEY_ID_CACHE_IN_FLIGHT_MS) this.missingKeyIds.delete(id);
    if (this.missingKeyIds.has(kid) || this.missingKeyIds.size >= MISSING_KEY_ID_CACHE_MAX_ENTRIES) return;
    this.missingKeyIds.set(kid, nowMs);
    void this.refresh();
  }

  private scheduleRefresh(): void {
    if (this.closed) return;
    this.refreshTimer = setTimeout(() => {
      void this.refresh().finally(() => this.scheduleRefresh());
    }, this.options.refreshMs);
    // The refresh must not keep a stopping process alive.
    this.refreshTimer.unref();
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.fetchWithRetries()
      .then(
        (keys) => {
          this.keys = keys;
          // Ids now in the set need no refresh; ids still missing keep their minute.
          for (const id of this.missingKeyIds.keys()) if (keys.hasKey(id)) this.missingKeyIds.delete(id);
        },
        (e: Error) =>
          this.onRefreshFailed(new JwksEndpointError(`${this.key}=${this.url.href}: refresh failed: ${e.message}`)),
      )
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  /** Kafka's Retry: waits of retry.backoff.ms doubling each time, for at most retry.backoff.max.ms in all. */
  private async fetchWithRetries(): Promise<JsonWebKeySet> {
    const startedMs = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchOnce();
      } catch (e) {
        const elapsedMs = Date.now() - startedMs;
        const waitMs = Math.min(
          this.options.retryBackoffMs * 2 ** (attempt - 1),
          this.options.retryBackoffMaxMs - elapsedMs,
        );
        if (waitMs <= 0 || this.closed) throw e;
        await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
      }
    }
  }

  private fetchOnce(): Promise<JsonWebKeySet> {
    const https = this.url.protocol === 'https:';
    // node:http and node:https are loaded by a broker that fetches a JWKS only.
    const client = builtinRequire(https ? 'node:https' : 'node:http') as typeof import('node:https');
    const requestOptions: RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
    if (https && this.options.ca) requestOptions.ca = this.options.ca;
    if (https && this.options.checkHostName === false) requestOptions.checkServerIdentity = () => undefined;
    return new Promise<JsonWebKeySet>((resolve, reject) => {
      const request = client.request(this.url, requestOptions, (response: IncomingMessage) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`HTTP ${response.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_JWKS_BYTES) {
            request.destroy(new Error(`the answer is larger than ${MAX_JWKS_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => {
          try {
            const set = new JsonWebKeySet(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            if (set.size === 0) throw new JwsError('no usable signing key');
            resolve(set);
          } catch (e) {
            reject(e instanceof SyntaxError ? new Error('not JSON') : e);
          }
        });
        response.on('error', reject);
      });
      request.setTimeout(JWKS_FETCH_TIMEOUT_MS, () =>
        request.destroy(new Error(`no answer in ${JWKS_FETCH_TIMEOUT_MS} ms`)),
      );
      request.on('error', reject);
      request.end();
    }).finally(() => {
      this.fetches++;
    });
  }
}
