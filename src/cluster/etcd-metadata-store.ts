/**
 * The metadata store on an etcd v3 cluster, through etcd's JSON gateway (HTTP/1.1, the `/v3/...` endpoints that
 * every etcd 3.4+ member serves next to gRPC on its client URL).
 *
 * Why the gateway and not the `etcd3` npm package (gRPC): no dependency at all (Node's fetch), where `etcd3`
 * brings @grpc/grpc-js and protobufjs (several MB installed, and tens of MB of heap for the proto definitions and
 * HTTP/2 sessions, which counts on a small machine); every call is a plain request that a proxy or curl can
 * replay. What gRPC would give, reconnection and watch resumption, is done here where its rules are ours: a watch
 * stream that ends or fails is opened again from the revision after the last one delivered, so no event is lost
 * or repeated, and a start revision etcd has compacted away is an error given to the watcher, never silence.
 * Endpoints are tried in order; a request that cannot reach one moves to the next.
 *
 * Every key lives under a per-cluster prefix (samsa.etcd.prefix), so several clusters share one etcd; the keys
 * the interface sees are the keys without it.
 */
import {
  type Compare,
  type KeyValue,
  LeaseLostError,
  type MetadataStore,
  MetadataStoreUnreachableError,
  type Operation,
  type TxnResult,
  type WatchEvent,
} from './metadata-store.js';

/** How long a watch waits before it opens its stream again after an error (etcd unreachable). */
const WATCH_RETRY_MS = 250;
/** A request with no answer within this long fails (and tries the next endpoint). */
const REQUEST_TIMEOUT_MS = 5_000;
/**
 * gRPC codes etcd answers with when it cannot serve rather than about the request: UNAVAILABLE (no leader, a
 * member stopping) and DEADLINE_EXCEEDED (etcdserver: request timed out, no quorum).
 */
const UNAVAILABLE_CODES = new Set([4, 14]);
/** etcd's leases count in whole seconds. */
const MIN_LEASE_TTL_SECONDS = 1;

export interface EtcdMetadataStoreOptions {
  /** Client URLs of the etcd members, `http://host:port`. */
  endpoints: string[];
  /** Every key of this cluster is stored under this prefix. */
  prefix: string;
  /** Where a watch reports what it cannot recover from (a compacted start revision) when its caller gave no handler. */
  onWatchError?: (error: Error) => void;
}

/** A watch could not resume at the revision it needed: etcd has compacted its history past it. */
export class WatchCompactedError extends Error {
  constructor(
    readonly prefix: string,
    readonly fromRevision: number,
    readonly compactRevision: number,
  ) {
    super(
      `watch on ${prefix} needs changes after revision ${fromRevision}, but etcd has compacted its history up to revision ${compactRevision}`,
    );
    this.name = 'WatchCompactedError';
  }
}

export class EtcdRequestError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'EtcdRequestError';
  }
}

interface EtcdKv {
  key: string;
  value?: string;
  mod_revision?: string;
  lease?: string;
}

interface EtcdHeader {
  revision?: string;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The end of a prefix range: the prefix with its last byte incremented (etcd's `--prefix`). */
function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = bytes[i]! + 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

export class EtcdMetadataStore implements MetadataStore {
  private readonly endpoints: string[];
  private current = 0;
  private readonly prefix: string;
  /** etcd lease IDs are 64-bit, beyond a JS number: the interface sees a small handle for each. */
  private readonly leaseIds = new Map<number, string>();
  private readonly leaseHandles = new Map<string, number>();
  private nextLease = 1;
  private readonly watches = new Set<AbortController>();
  private closed = false;

  private constructor(private readonly options: EtcdMetadataStoreOptions) {
    if (options.endpoints.length === 0) throw new Error('etcd: no endpoint given');
    this.endpoints = options.endpoints.map((e) => e.replace(/\/+$/, ''));
    this.prefix = options.prefix;
  }

  /** Connects (one request, so that a wrong endpoint fails the start rather than the first change). */
  static async open(options: EtcdMetadataStoreOptions): Promise<EtcdMetadataStore> {
    const store = new EtcdMetadataStore(options);
    await store.revision();
    return store;
  }

  /**
   * One request, on the current endpoint and then the others. An endpoint that refuses the connection, gives no
   * whole answer within REQUEST_TIMEOUT_MS or says it cannot serve (no leader, no quorum) is passed over; when
   * every one failed so, MetadataStoreUnreachableError. An answer about the request itself is EtcdRequestError.
   */
  private async call<T>(path: string, body: unknown): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.endpoints.length; attempt++) {
      const endpoint = this.endpoints[this.current]!;
      let response: Response;
      let text: string;
      try {
        response = await fetch(`${endpoint}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        text = await response.text();
      } catch (e) {
        lastError = e;
        this.current = (this.current + 1) % this.endpoints.length;
        continue;
      }
      let json: Record<string, unknown>;
      try {
        json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
      } catch {
        throw new EtcdRequestError(`etcd ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
      }
      if (!response.ok || json.error !== undefined) {
        const message = String(json.message ?? json.error ?? `HTTP ${response.status}`);
        const code = json.code as number | undefined;
        if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
          lastError = new Error(message);
          this.current = (this.current + 1) % this.endpoints.length;
          continue;
        }
        throw new EtcdRequestError(`etcd ${path}: ${message}`, code);
      }
      return json as T;
    }
    const cause = lastError as (Error & { cause?: unknown }) | undefined;
    throw new MetadataStoreUnreachableError(
      `etcd unreachable at ${this.endpoints.join(', ')}: ${String(cause?.cause ?? cause?.message ?? cause)}`,
    );
  }

  private leaseHandle(id: string | undefined): number {
    if (id === undefined || id === '0') return 0;
    let handle = this.leaseHandles.get(id);
    if (handle === undefined) {
      handle = this.nextLease++;
      this.leaseHandles.set(id, handle);
      this.leaseIds.set(handle, id);
    }
    return handle;
  }

  private leaseId(handle: number): string {
    const id = this.leaseIds.get(handle);
    if (id === undefined) throw new LeaseLostError(handle);
    return id;
  }

  private toKeyValue(kv: EtcdKv): KeyValue {
    return {
      key: unb64(kv.key).slice(this.prefix.length),
      value: unb64(kv.value),
      modRevision: Number(kv.mod_revision ?? 0),
      lease: this.leaseHandle(kv.lease),
    };
  }

  async get(key: string): Promise<KeyValue | null> {
    const r = await this.call<{ kvs?: EtcdKv[] }>('/v3/kv/range', { key: b64(this.prefix + key) });
    const kv = r.kvs?.[0];
    return kv ? this.toKeyValue(kv) : null;
  }

  async list(prefix: string): Promise<KeyValue[]> {
    const full = this.prefix + prefix;
    const r = await this.call<{ kvs?: EtcdKv[] }>('/v3/kv/range', {
      key: b64(full),
      range_end: prefixRangeEnd(full),
      sort_order: 'ASCEND',
      sort_target: 'KEY',
    });
    return (r.kvs ?? []).map((kv) => this.toKeyValue(kv));
  }

  async txn(compares: Compare[], operations: Operation[]): Promise<TxnResult> {
    let r: { header?: EtcdHeader; succeeded?: boolean };
    try {
      r = await this.txnCall(compares, operations);
    } catch (e) {
      // etcd refuses the whole transaction when a put names a lease it no longer knows.
      const leased = operations.flatMap((op) => (op.type === 'put' && op.lease ? [op.lease] : []))[0];
      if (leased && e instanceof EtcdRequestError && /lease not found/.test(e.message))
        throw new LeaseLostError(leased);
      throw e;
    }
    return { succeeded: r.succeeded === true, revision: Number(r.header?.revision ?? 0) };
  }

  private txnCall(compares: Compare[], operations: Operation[]): Promise<{ header?: EtcdHeader; succeeded?: boolean }> {
    return this.call<{ header?: EtcdHeader; succeeded?: boolean }>('/v3/kv/txn', {
      compare: compares.map((c) => ({
        key: b64(this.prefix + c.key),
        target: 'MOD',
        result: 'EQUAL',
        mod_revision: String(c.modRevision),
      })),
      success: operations.map((op) =>
        op.type === 'put'
          ? {
              request_put: {
                key: b64(this.prefix + op.key),
                value: b64(op.value),
                ...(op.lease ? { lease: this.leaseId(op.lease) } : {}),
              },
            }
          : { request_delete_range: { key: b64(this.prefix + op.key) } },
      ),
    });
  }

  watch(
    prefix: string,
    fromRevision: number,
    listener: (events: WatchEvent[], revision: number) => void,
    onError?: (error: Error) => void,
  ): () => void {
    const controller = new AbortController();
    this.watches.add(controller);
    const report =
      onError ??
      this.options.onWatchError ??
      ((e: Error) =>
        queueMicrotask(() => {
          throw e;
        }));
    // The last revision whose events were all delivered: a new stream starts after it.
    let delivered = fromRevision;
    const full = this.prefix + prefix;
    const run = async () => {
      while (!controller.signal.aborted && !this.closed) {
        try {
          const endpoint = this.endpoints[this.current]!;
          const response = await fetch(`${endpoint}/v3/watch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              create_request: {
                key: b64(full),
                range_end: prefixRangeEnd(full),
                start_revision: String(delivered + 1),
              },
            }),
            signal: controller.signal,
          });
          if (!response.ok || !response.body) throw new EtcdRequestError(`etcd /v3/watch: HTTP ${response.status}`);
          const decoder = new TextDecoder();
          let buffered = '';
          for await (const chunk of response.body) {
            buffered += decoder.decode(chunk as Uint8Array, { stream: true });
            let newline = buffered.indexOf('\n');
            while (newline >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              newline = buffered.indexOf('\n');
              if (line === '') continue;
              const message = JSON.parse(line) as {
                result?: {
                  compact_revision?: string;
                  canceled?: boolean;
                  cancel_reason?: string;
                  events?: EtcdEvent[];
                };
                error?: { message?: string };
              };
              if (message.error) throw new EtcdRequestError(`etcd /v3/watch: ${message.error.message}`);
              const result = message.result ?? {};
              if (result.compact_revision !== undefined && result.compact_revision !== '0') {
                controller.abort();
                this.watches.delete(controller);
                report(new WatchCompactedError(prefix, delivered, Number(result.compact_revision)));
                return;
              }
              if (result.canceled) throw new EtcdRequestError(`etcd canceled the watch: ${result.cancel_reason ?? ''}`);
              this.deliver(result.events ?? [], listener, (revision) => {
                delivered = revision;
              });
            }
          }
        } catch (e) {
          if (controller.signal.aborted || this.closed) return;
          this.current = (this.current + 1) % this.endpoints.length;
          void e;
        }
        // The stream ended or failed: open it again after the last revision delivered.
        await new Promise((resolve) => setTimeout(resolve, WATCH_RETRY_MS));
      }
    };
    void run();
    return () => {
      controller.abort();
      this.watches.delete(controller);
    };
  }

  /** One listener call per revision, as the embedded store makes them (a watch response may hold several). */
  private deliver(
    events: EtcdEvent[],
    listener: (events: WatchEvent[], revision: number) => void,
    done: (revision: number) => void,
  ): void {
    let batch: WatchEvent[] = [];
    let batchRevision = 0;
    const flush = () => {
      if (batch.length === 0) return;
      listener(batch, batchRevision);
      done(batchRevision);
      batch = [];
    };
    for (const event of events) {
      const revision = Number(event.kv.mod_revision ?? 0);
      if (revision !== batchRevision) flush();
      batchRevision = revision;
      batch.push(
        event.type === 'DELETE'
          ? { type: 'delete', key: unb64(event.kv.key).slice(this.prefix.length), modRevision: revision }
          : { type: 'put', kv: this.toKeyValue(event.kv) },
      );
    }
    flush();
  }

  async grantLease(ttlMs: number): Promise<number> {
    const ttl = Math.max(MIN_LEASE_TTL_SECONDS, Math.ceil(ttlMs / 1000));
    const r = await this.call<{ ID: string }>('/v3/lease/grant', { TTL: String(ttl) });
    return this.leaseHandle(r.ID);
  }

  /** Renews the lease once; a lease etcd no longer knows (expired, revoked) throws LeaseLostError. */
  async keepAlive(lease: number): Promise<void> {
    let r: { result?: { TTL?: string } };
    try {
      r = await this.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: this.leaseId(lease) });
    } catch (e) {
      if (e instanceof EtcdRequestError && /not found/.test(e.message)) throw new LeaseLostError(lease);
      throw e;
    }
    if (Number(r.result?.TTL ?? 0) <= 0) throw new LeaseLostError(lease);
  }

  async revokeLease(lease: number): Promise<void> {
    const id = this.leaseIds.get(lease);
    if (id === undefined) return;
    try {
      await this.call('/v3/lease/revoke', { ID: id });
    } catch (e) {
      // Already gone: what a revoke wants.
      if (!(e instanceof EtcdRequestError && /not found/.test(e.message))) throw e;
    }
  }

  async revision(): Promise<number> {
    const r = await this.call<{ header?: EtcdHeader }>('/v3/kv/range', { key: b64(this.prefix), count_only: true });
    return Number(r.header?.revision ?? 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watches) w.abort();
    this.watches.clear();
  }
}

interface EtcdEvent {
  type?: 'PUT' | 'DELETE';
  kv: EtcdKv;
}
