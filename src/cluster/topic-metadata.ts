import { randomBytes } from 'node:crypto';
import { type Compare, createIfAbsent, type MetadataStore, type Operation, type WatchEvent } from './metadata-store.js';
import { collisionKey } from './topic-name.js';

/** Keys of the metadata store. */
export const TOPICS_PREFIX = '/topics/';
export const CLUSTER_ID_KEY = '/cluster/id';
/**
 * One key per deleted topic id, written with the deletion: a log left behind (a crash between the metadata
 * change and the directory's removal) is deleted at start-up only when its topic id is found here.
 */
export const DELETED_TOPICS_PREFIX = '/deleted-topics/';
/** Deleted topic ids remembered; the oldest go first. A log of a forgotten one is kept aside, never deleted. */
export const MAX_DELETED_TOPIC_IDS = 10_000;

export interface PartitionAssignment {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** KIP-455: replicas a reassignment in progress adds (absent: none); `replicas` holds them already. */
  addingReplicas?: number[];
  /** KIP-455: replicas a reassignment in progress removes once the added ones are in the ISR. */
  removingReplicas?: number[];
}

/** How many times `modify` retries when the topic record changes under it (another writer). */
const MODIFY_ATTEMPTS = 5;

/** Kafka's limit on a topic's partition count (and a guard against absurd requests). */
export const MAX_PARTITIONS_PER_TOPIC = 1_000_000;

/** A new partition led by `nodeId`, its only replica (one broker, replication factor 1). */
export function newAssignment(partition: number, nodeId: number): PartitionAssignment {
  return assignedPartition(partition, [nodeId]);
}

/**
 * A new partition on the replicas a client chose (all live brokers, checked before): the first is the preferred
 * leader and leads, as in Kafka, and all are in sync since the partition is empty.
 */
export function assignedPartition(partition: number, replicas: readonly number[]): PartitionAssignment {
  const leader = replicas[0];
  if (leader === undefined) throw new Error(`partition ${partition} has no replicas`);
  return { partition, leader, leaderEpoch: 0, replicas: [...replicas], isr: [...replicas] };
}

/** A topic as the metadata store holds it. */
export interface TopicRecord {
  name: string;
  /** Kafka's 22-character base64url UUID. */
  id: string;
  partitions: PartitionAssignment[];
  /** Topic config overrides (DYNAMIC_TOPIC_CONFIG). */
  configs: Record<string, string>;
}

/** Kafka's zero UUID ("no topic id"), in its printed form. */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

/** A new random UUID in Kafka's printed form; never the zero UUID or one starting with '-' (Kafka avoids both). */
export function newUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-') && id !== ZERO_UUID) return id;
  }
}

/**
 * The topics of the cluster, cached in memory and kept current by watching the store. Writes go through
 * compare-and-set transactions, so two brokers creating the same topic cannot both succeed.
 */
export class TopicMetadata {
  private readonly byName = new Map<string, TopicRecord>();
  private readonly byId = new Map<string, TopicRecord>();
  private readonly revisions = new Map<string, number>();
  /**
   * The revision of the last change applied per name, deletions included: a write of this view is applied when
   * it succeeds and the watch brings it again later (at once on the embedded store, later on etcd), so the
   * watch's older events must not undo a newer local change (nor notify twice).
   */
  private readonly applied = new Map<string, number>();
  /** Deleted topic ids, with the revision that deleted each, oldest first. */
  private readonly deletedIds = new Map<string, number>();
  private readonly stopWatches: Array<() => void> = [];
  private readonly listeners = new Set<(changed: string[]) => void>();

  private constructor(
    private readonly store: MetadataStore,
    private readonly maxDeletedTopicIds: number,
  ) {}

  static async load(store: MetadataStore, options: { maxDeletedTopicIds?: number } = {}): Promise<TopicMetadata> {
    const tm = new TopicMetadata(store, options.maxDeletedTopicIds ?? MAX_DELETED_TOPIC_IDS);
    const revision = await store.revision();
    for (const kv of await store.list(TOPICS_PREFIX)) tm.set(JSON.parse(kv.value) as TopicRecord, kv.modRevision);
    const deleted = (await store.list(DELETED_TOPICS_PREFIX)).sort((a, b) => a.modRevision - b.modRevision);
    for (const kv of deleted) tm.deletedIds.set(kv.key.slice(DELETED_TOPICS_PREFIX.length), kv.modRevision);
    // Watched first, though the two watches may deliver a deletion's keys in either order (etcd orders the events
    // of one watch, not those of two): onEvents records the id of a topic whose key goes.
    tm.stopWatches.push(store.watch(DELETED_TOPICS_PREFIX, revision, (events) => tm.onDeletedEvents(events)));
    tm.stopWatches.push(store.watch(TOPICS_PREFIX, revision, (events) => tm.onEvents(events)));
    return tm;
  }

  /** Called with the names of topics created, changed or deleted, by this view or any other. */
  onChange(listener: (changed: string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(name: string): TopicRecord | undefined {
    return this.byName.get(name);
  }

  getById(id: string): TopicRecord | undefined {
    return this.byId.get(id);
  }

  /** Whether the metadata records that a topic of this id was deleted. */
  isDeleted(id: string): boolean {
    return this.deletedIds.has(id);
  }

  all(): IterableIterator<TopicRecord> {
    return this.byName.values();
  }

  /** An existing topic whose name collides with `name` by '.' versus '_', if any. */
  collidingTopic(name: string): string | undefined {
    const key = collisionKey(name);
    for (const t of this.byName.keys()) if (t !== name && collisionKey(t) === key) return t;
    return undefined;
  }

  /** Creates a topic unless one of that name exists; returns the record, or null when it existed. */
  async create(topic: TopicRecord): Promise<TopicRecord | null> {
    const key = TOPICS_PREFIX + topic.name;
    const r = await this.store.txn([{ key, modRevision: 0 }], [{ type: 'put', key, value: JSON.stringify(topic) }]);
    if (!r.succeeded) return null;
    this.apply(topic.name, r.revision, topic);
    return topic;
  }

  /**
   * Replaces a topic's record if it has not changed since it was read. Returns false on a concurrent change.
   * `compares` are further conditions of the same transaction (the controller's: it still holds `/controller`).
   */
  async update(topic: TopicRecord, compares: readonly Compare[] = []): Promise<boolean> {
    const key = TOPICS_PREFIX + topic.name;
    const current = this.revisions.get(topic.name) ?? 0;
    const r = await this.store.txn(
      [{ key, modRevision: current }, ...compares],
      [{ type: 'put', key, value: JSON.stringify(topic) }],
    );
    if (r.succeeded) this.apply(topic.name, r.revision, topic);
    return r.succeeded;
  }

  /**
   * Writes `change(current)` compare-and-set, re-reading and retrying while other writers change the topic in
   * between. `change` returning null leaves the topic as it is ('skipped'); 'busy' means it kept changing.
   */
  async modify(
    name: string,
    change: (current: TopicRecord) => TopicRecord | null,
    compares: readonly Compare[] = [],
  ): Promise<'updated' | 'skipped' | 'missing' | 'busy'> {
    for (let attempt = 0; attempt < MODIFY_ATTEMPTS; attempt++) {
      const current = this.byName.get(name);
      if (!current) return 'missing';
      const next = change(current);
      if (!next) return 'skipped';
      if (await this.update(next, compares)) return 'updated';
    }
    return 'busy';
  }

  /** Deletes a topic, recording its id as deleted in the same transaction (the oldest records beyond the bound go). */
  async delete(name: string): Promise<boolean> {
    const key = TOPICS_PREFIX + name;
    const current = this.revisions.get(name);
    const topic = this.byName.get(name);
    if (current === undefined || !topic) return false;
    const operations: Operation[] = [
      { type: 'delete', key },
      { type: 'put', key: DELETED_TOPICS_PREFIX + topic.id, value: JSON.stringify({ name }) },
    ];
    let excess = this.deletedIds.size + 1 - this.maxDeletedTopicIds;
    for (const id of this.deletedIds.keys()) {
      if (excess-- <= 0) break;
      operations.push({ type: 'delete', key: DELETED_TOPICS_PREFIX + id });
    }
    const r = await this.store.txn([{ key, modRevision: current }], operations);
    if (r.succeeded) {
      this.deletedIds.set(topic.id, r.revision);
      this.apply(name, r.revision, null);
    }
    return r.succeeded;
  }

  /**
   * Brings this view to the store's current records now, not waiting for the watch. A broker cut off from etcd
   * can register again before its watch stream (a connection that hung rather than failed) brings what changed
   * meanwhile; leading or answering Metadata from that older view would undo the failover (Kafka's broker stays
   * fenced until it has caught up with the metadata log). The watch's late events are older and ignored.
   */
  async resync(): Promise<void> {
    const revision = await this.store.revision();
    const deleted = (await this.store.list(DELETED_TOPICS_PREFIX)).sort((a, b) => a.modRevision - b.modRevision);
    const current = await this.store.list(TOPICS_PREFIX);
    // Deleted ids first, as the watches order them: a listener reconciling the logs sees why a topic went.
    for (const kv of deleted) {
      const id = kv.key.slice(DELETED_TOPICS_PREFIX.length);
      if (!this.deletedIds.has(id)) this.deletedIds.set(id, kv.modRevision);
    }
    const changed: string[] = [];
    const present = new Set<string>();
    for (const kv of current) {
      const topic = JSON.parse(kv.value) as TopicRecord;
      present.add(topic.name);
      if (this.applyChange(topic.name, kv.modRevision, topic)) changed.push(topic.name);
    }
    // Gone from the store: deleted at a revision after the last one applied here and no later than `revision`.
    for (const name of [...this.byName.keys()]) {
      if (!present.has(name) && this.applyChange(name, revision, null)) changed.push(name);
    }
    if (changed.length > 0) for (const l of this.listeners) l(changed);
  }

  close(): void {
    for (const stop of this.stopWatches) stop();
  }

  private onDeletedEvents(events: WatchEvent[]): void {
    for (const e of events) {
      if (e.type === 'put') this.deletedIds.set(e.kv.key.slice(DELETED_TOPICS_PREFIX.length), e.kv.modRevision);
      else this.deletedIds.delete(e.key.slice(DELETED_TOPICS_PREFIX.length));
    }
  }

  private onEvents(events: WatchEvent[]): void {
    const changed: string[] = [];
    for (const e of events) {
      if (e.type === 'put') {
        const topic = JSON.parse(e.kv.value) as TopicRecord;
        if (this.applyChange(topic.name, e.kv.modRevision, topic)) changed.push(topic.name);
      } else {
        const name = e.key.slice(TOPICS_PREFIX.length);
        const gone = this.byName.get(name);
        if (this.applyChange(name, e.modRevision, null)) {
          changed.push(name);
          // delete() removes a topic's key and records its id in one transaction, but the record comes through the
          // other watch, maybe later: the id is a deleted one from this event on, so that a listener reconciling
          // the topic's logs deletes them instead of keeping them aside as logs of an unknown topic.
          if (gone) this.deletedIds.set(gone.id, e.modRevision);
        }
        // The watch has reached this deletion: no older event of the name can come any more.
        if (this.applied.get(name) === e.modRevision && !this.byName.has(name)) this.applied.delete(name);
      }
    }
    if (changed.length > 0) for (const l of this.listeners) l(changed);
  }

  /** A change of this view's own, applied and announced unless the watch brought it first. */
  private apply(name: string, revision: number, topic: TopicRecord | null): void {
    if (this.applyChange(name, revision, topic)) for (const l of this.listeners) l([name]);
  }

  /** Applies a put (`topic`) or a deletion (null) newer than the last change applied; whether anything changed. */
  private applyChange(name: string, revision: number, topic: TopicRecord | null): boolean {
    if ((this.applied.get(name) ?? -1) >= revision) return false;
    this.applied.set(name, revision);
    if (topic) {
      this.set(topic, revision);
      return true;
    }
    return this.remove(name);
  }

  private set(topic: TopicRecord, revision: number): void {
    const previous = this.byName.get(topic.name);
    if (previous) this.byId.delete(previous.id);
    this.byName.set(topic.name, topic);
    this.byId.set(topic.id, topic);
    this.revisions.set(topic.name, revision);
  }

  private remove(name: string): boolean {
    const previous = this.byName.get(name);
    if (!previous) return false;
    this.byName.delete(name);
    this.byId.delete(previous.id);
    this.revisions.delete(name);
    return true;
  }
}

/** The cluster id: read from the store, or created once (first broker to start wins). */
export async function ensureClusterId(store: MetadataStore, proposed: string = newUuid()): Promise<string> {
  const existing = await store.get(CLUSTER_ID_KEY);
  if (existing) return existing.value;
  if (await createIfAbsent(store, CLUSTER_ID_KEY, proposed)) return proposed;
  return (await store.get(CLUSTER_ID_KEY))!.value;
}
