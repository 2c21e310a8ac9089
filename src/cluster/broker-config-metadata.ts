import type { MetadataStore, WatchEvent } from './metadata-store.js';

/**
 * Keys of the dynamic broker configs in the metadata store: one per broker id, and Kafka's `<default>` entity for
 * the cluster-wide default. Each holds the configs set on that resource as a JSON object of strings.
 */
export const BROKER_CONFIGS_PREFIX = '/configs/brokers/';
/** Kafka's name for the cluster-wide default entity (resource name "" on the wire). */
export const DEFAULT_BROKER_ENTITY = '<default>';

/** How many times `modify` retries when the resource's configs change under it (another writer). */
const MODIFY_ATTEMPTS = 5;

/** The dynamic configs that apply to this broker: its own, then the cluster-wide default. */
export interface DynamicConfigLayers {
  broker: Readonly<Record<string, string>>;
  clusterDefault: Readonly<Record<string, string>>;
}

function keyOf(resourceName: string): string {
  return BROKER_CONFIGS_PREFIX + (resourceName === '' ? DEFAULT_BROKER_ENTITY : resourceName);
}

/**
 * The dynamic broker configs of the cluster, cached in memory and kept current by watching the store. Writes are
 * compare-and-set on the resource's key, so that two writers cannot lose each other's change.
 */
export class BrokerConfigMetadata {
  private readonly byKey = new Map<string, { configs: Record<string, string>; revision: number }>();
  /** The revision of the last change seen per key, deletions included. */
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private stopWatch: (() => void) | null = null;
  private current: DynamicConfigLayers = { broker: {}, clusterDefault: {} };

  private constructor(
    private readonly store: MetadataStore,
    private readonly nodeId: number,
  ) {}

  static async load(store: MetadataStore, nodeId: number): Promise<BrokerConfigMetadata> {
    const m = new BrokerConfigMetadata(store, nodeId);
    const revision = await store.revision();
    for (const kv of await store.list(BROKER_CONFIGS_PREFIX)) m.set(kv.key, parse(kv.value), kv.modRevision);
    m.refreshLayers();
    m.stopWatch = store.watch(BROKER_CONFIGS_PREFIX, revision, (events) => m.onEvents(events));
    return m;
  }

  /** The configs that apply to this broker now. Replaced, never changed, on every update. */
  layers(): DynamicConfigLayers {
    return this.current;
  }

  /** The configs set on a resource: a broker id, or "" for the cluster-wide default. */
  configsOf(resourceName: string): Record<string, string> {
    return { ...this.byKey.get(keyOf(resourceName))?.configs };
  }

  /** Called after every change of the configs that apply to this broker, by this view or any other. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Writes `change(current)` as the resource's configs, compare-and-set, retrying while another writer changes
   * them in between. `change` returning null leaves them as they are; an empty result deletes the key.
   */
  async modify(
    resourceName: string,
    change: (current: Record<string, string>) => Record<string, string> | null,
  ): Promise<'updated' | 'skipped' | 'busy'> {
    const key = keyOf(resourceName);
    for (let attempt = 0; attempt < MODIFY_ATTEMPTS; attempt++) {
      const entry = this.byKey.get(key);
      const next = change({ ...entry?.configs });
      if (!next) return 'skipped';
      const empty = Object.keys(next).length === 0;
      const r = await this.store.txn(
        [{ key, modRevision: entry?.revision ?? 0 }],
        empty ? [{ type: 'delete', key }] : [{ type: 'put', key, value: JSON.stringify(next) }],
      );
      if (!r.succeeded) continue;
      this.set(key, empty ? null : next, r.revision);
      this.changed();
      return 'updated';
    }
    return 'busy';
  }

  close(): void {
    this.stopWatch?.();
    this.stopWatch = null;
  }

  private onEvents(events: WatchEvent[]): void {
    let changed = false;
    for (const e of events) {
      const key = e.type === 'put' ? e.kv.key : e.key;
      const revision = e.type === 'put' ? e.kv.modRevision : e.modRevision;
      // Our own writes are applied when they succeed; their events come after.
      if ((this.seen.get(key) ?? 0) >= revision) continue;
      this.set(key, e.type === 'put' ? parse(e.kv.value) : null, revision);
      changed = true;
    }
    if (changed) this.changed();
  }

  private set(key: string, configs: Record<string, string> | null, revision: number): void {
    this.seen.set(key, revision);
    if (configs) this.byKey.set(key, { configs, revision });
    else this.byKey.delete(key);
  }

  private changed(): void {
    this.refreshLayers();
    for (const l of this.listeners) l();
  }

  private refreshLayers(): void {
    this.current = {
      broker: { ...this.byKey.get(keyOf(String(this.nodeId)))?.configs },
      clusterDefault: { ...this.byKey.get(keyOf(''))?.configs },
    };
  }
}

/** A stored value as configs: an object of strings (anything else in it is dropped). */
function parse(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const value = JSON.parse(text) as unknown;
  if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}
