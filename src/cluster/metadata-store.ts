/**
 * The cluster's metadata store: topics, partitions, configs, the cluster id, producer id blocks, broker
 * registrations. Shaped after etcd (a revision per change, compare-and-set transactions over several keys,
 * watches on a prefix, leases for ephemeral keys), so that one broker runs on the embedded implementation
 * and a cluster on etcd, with the same code above.
 */
export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the store at the change that last wrote this key. */
  modRevision: number;
  /** Lease that owns the key (it disappears with the lease), or 0. */
  lease: number;
}

/** A condition of a transaction: the key's modRevision equals this (0: the key does not exist). */
export interface Compare {
  key: string;
  modRevision: number;
}

export type Operation = { type: 'put'; key: string; value: string; lease?: number } | { type: 'delete'; key: string };

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction (unchanged when it failed). */
  revision: number;
}

export type WatchEvent = { type: 'put'; kv: KeyValue } | { type: 'delete'; key: string; modRevision: number };

export interface MetadataStore {
  get(key: string): Promise<KeyValue | null>;
  /** Every key starting with `prefix`, sorted by key. */
  list(prefix: string): Promise<KeyValue[]>;
  /** Applies `operations` atomically if every comparison holds. */
  txn(compares: Compare[], operations: Operation[]): Promise<TxnResult>;
  /**
   * Calls `listener` for every change under `prefix` after `fromRevision`, in revision order.
   * Returns a function that stops the watch. `onError` hears of a watch that cannot go on, such as one whose
   * `fromRevision` the store has compacted away (the watch has stopped then; its caller must reload).
   */
  watch(
    prefix: string,
    fromRevision: number,
    listener: (events: WatchEvent[], revision: number) => void,
    onError?: (error: Error) => void,
  ): () => void;
  /** A lease that expires unless kept alive within `ttlMs`; keys put with it are deleted when it expires. */
  grantLease(ttlMs: number): Promise<number>;
  keepAlive(lease: number): Promise<void>;
  revokeLease(lease: number): Promise<void>;
  /** Current revision of the store. */
  revision(): Promise<number>;
  close(): Promise<void>;
}

/** Puts `value` at `key` only if the key does not exist yet. */
export async function createIfAbsent(store: MetadataStore, key: string, value: string): Promise<boolean> {
  const r = await store.txn([{ key, modRevision: 0 }], [{ type: 'put', key, value }]);
  return r.succeeded;
}
