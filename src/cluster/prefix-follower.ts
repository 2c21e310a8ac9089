import type { MetadataStore, WatchEvent } from './metadata-store.js';

/**
 * The keys under one prefix of the metadata store, followed: listed once, then every change through the store's
 * watch from that revision, each handed to `apply` decoded (null: deleted, or a value that does not decode).
 * A broker's own writes are applied as soon as they succeed (`written`); their watch events, which come after,
 * are skipped by revision. The SCRAM credentials, ACLs and client quotas are kept this way.
 */
export class PrefixFollower<T> {
  /** The revision of the last change applied per key, deletions included. */
  private readonly seen = new Map<string, number>();
  private stopWatch: (() => void) | null = null;

  constructor(
    private readonly decode: (value: string) => T | null,
    private readonly apply: (key: string, value: T | null) => void,
  ) {}

  /** Lists the keys, applies them, and follows their changes; `onError` hears of a watch that stopped. */
  async start(store: MetadataStore, prefix: string, onError?: (error: Error) => void): Promise<void> {
    const revision = await store.revision();
    for (const kv of await store.list(prefix)) this.accept(kv.key, this.decode(kv.value), kv.modRevision);
    this.stopWatch = store.watch(prefix, revision, (events) => this.onEvents(events), onError);
  }

  /** A write of this broker that succeeded at `revision`, applied at once. */
  written(key: string, value: T | null, revision: number): void {
    this.accept(key, value, revision);
  }

  close(): void {
    this.stopWatch?.();
    this.stopWatch = null;
  }

  private onEvents(events: WatchEvent[]): void {
    for (const e of events) {
      const key = e.type === 'put' ? e.kv.key : e.key;
      const revision = e.type === 'put' ? e.kv.modRevision : e.modRevision;
      if ((this.seen.get(key) ?? 0) >= revision) continue;
      this.accept(key, e.type === 'put' ? this.decode(e.kv.value) : null, revision);
    }
  }

  private accept(key: string, value: T | null, revision: number): void {
    this.seen.set(key, revision);
    this.apply(key, value);
  }
}
