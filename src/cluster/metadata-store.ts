/**
 * The cluster's metadata store: topics, partitions, configs, the cluster id, producer id blocks, broker
 * registrations. Shaped after etcd (a revision per change, compare-and-set transactions over several keys,
 * watches on a prefix, leases for ephemeral keys), so that one broker runs on the embedded implementation
 * and a cluster on etcd, with the same code above.
 */
/**
 * The store could not be reached: every endpoint refused the connection, or gave no answer in time, or answered
 * that it cannot serve (no quorum). Not an answer about the data: a write that fails so may still be applied
 * later, and a lease is not lost because its renewal failed so (the store alone can say that, once reachable).
 * Requests that must write to the store answer Kafka's REQUEST_TIMED_OUT on it (see broker/metadata-errors.ts).
 */
export class MetadataStoreUnreachableError extends Error {
  override readonly name = 'MetadataStoreUnreachableError';
}

/** The lease is no longer known to the store: it expired or was revoked, and the keys put with it are gone. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(lease: number) {
    super(`lease ${lease} is lost (expired or revoked): the keys put with it are deleted`);
  }
}

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
  /**
   * A lease that expires unless kept alive within `ttlMs`; keys put with it are deleted when it expires. A put
   * with a lease the store no longer knows throws LeaseLostError.
   */
  grantLease(ttlMs: number): Promise<number>;
  /** Renews the lease; a lease the store no longer knows (expired, revoked) throws LeaseLostError. */
  keepAlive(lease: number): Promise<void>;
  /** Deletes the lease and its keys; a lease the store no longer knows is already what this wants, not an error. */
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
