import type { MetadataStore, Operation } from './metadata-store.js';
import { PrefixFollower } from './prefix-follower.js';

/**
 * Client quotas (KIP-546): values such as `producer_byte_rate` set on an entity made of a user, a client id, or
 * both, where a null name is the default for that type (Kafka's `<default>`). Kept in the metadata store under
 * `<prefix><entity>`, the entity written as `user=<name>` and `client-id=<name>` parts (names URI-encoded, the
 * default as `<default>`), joined by `/` in that order, or one `ip=<address>` part; the value is the JSON object
 * of quota values.
 */
export const CLIENT_QUOTAS_PREFIX = '/client-quotas/';

/** `ip` entities stand alone (connection_creation_rate); user and client-id ones may be combined. */
export const QUOTA_ENTITY_TYPES = ['user', 'client-id', 'ip'] as const;
export type QuotaEntityType = (typeof QUOTA_ENTITY_TYPES)[number];

/** An entity: for each type it names, a name or null (the default). Types in QUOTA_ENTITY_TYPES order. */
export type QuotaEntity = ReadonlyArray<{ entityType: QuotaEntityType; entityName: string | null }>;

const DEFAULT_NAME = '<default>';

export function quotaEntityKey(entity: QuotaEntity): string {
  const parts = QUOTA_ENTITY_TYPES.flatMap((type) => {
    const part = entity.find((e) => e.entityType === type);
    if (!part) return [];
    return [`${type}=${part.entityName === null ? DEFAULT_NAME : encodeURIComponent(part.entityName)}`];
  });
  return `${CLIENT_QUOTAS_PREFIX}${parts.join('/')}`;
}

function parseEntityKey(key: string): QuotaEntity | null {
  const entity: Array<{ entityType: QuotaEntityType; entityName: string | null }> = [];
  for (const part of key.slice(CLIENT_QUOTAS_PREFIX.length).split('/')) {
    const eq = part.indexOf('=');
    const type = part.slice(0, eq) as QuotaEntityType;
    if (eq < 0 || !QUOTA_ENTITY_TYPES.includes(type)) return null;
    const name = part.slice(eq + 1);
    entity.push({ entityType: type, entityName: name === DEFAULT_NAME ? null : decodeURIComponent(name) });
  }
  return entity.length > 0 ? entity : null;
}

function decodeValues(text: string): Map<string, number> | null {
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null) return null;
  const values = new Map<string, number>();
  for (const [k, n] of Object.entries(v)) if (typeof n === 'number') values.set(k, n);
  return values;
}

/** One entity's change: the keys to set and the keys to remove. */
export interface ClientQuotaChange {
  entity: QuotaEntity;
  set: ReadonlyMap<string, number>;
  remove: readonly string[];
}

/**
 * The cluster's client quotas, cached in memory (the produce and fetch paths read them without waiting) and kept
 * current by watching the store, so that a quota altered through any broker holds on every broker. `version`
 * changes with every change, so that the quota manager knows when to resolve its entities again.
 */
export class ClientQuotaMetadata {
  private readonly byKey = new Map<string, { entity: QuotaEntity; values: Map<string, number> }>();
  private readonly follower = new PrefixFollower(decodeValues, (key, values: Map<string, number> | null) =>
    this.set(key, values),
  );
  version = 0;

  private constructor(private readonly store: MetadataStore) {}

  static async load(store: MetadataStore): Promise<ClientQuotaMetadata> {
    const m = new ClientQuotaMetadata(store);
    await m.follower.start(store, CLIENT_QUOTAS_PREFIX);
    return m;
  }

  /** Whether any quota is set: without one, the request paths skip quota work altogether. */
  get isEmpty(): boolean {
    return this.byKey.size === 0;
  }

  /** The values set on exactly this entity. */
  get(entity: QuotaEntity): ReadonlyMap<string, number> | undefined {
    return this.byKey.get(quotaEntityKey(entity))?.values;
  }

  entries(): IterableIterator<{ entity: QuotaEntity; values: ReadonlyMap<string, number> }> {
    return this.byKey.values();
  }

  /** Writes the changes in one transaction of the store, then uses them at once. */
  async apply(changes: readonly ClientQuotaChange[]): Promise<void> {
    const next = new Map<string, Map<string, number> | null>();
    for (const c of changes) {
      const key = quotaEntityKey(c.entity);
      const values = new Map(next.get(key) ?? this.byKey.get(key)?.values ?? []);
      for (const k of c.remove) values.delete(k);
      for (const [k, v] of c.set) values.set(k, v);
      next.set(key, values.size > 0 ? values : null);
    }
    if (next.size === 0) return;
    const operations: Operation[] = [...next].map(([key, values]) =>
      values ? { type: 'put', key, value: JSON.stringify(Object.fromEntries(values)) } : { type: 'delete', key },
    );
    const r = await this.store.txn([], operations);
    for (const [key, values] of next) this.follower.written(key, values, r.revision);
  }

  close(): void {
    this.follower.close();
  }

  private set(key: string, values: Map<string, number> | null): void {
    const entity = parseEntityKey(key);
    if (!entity) return;
    if (values && values.size > 0) this.byKey.set(key, { entity, values });
    else this.byKey.delete(key);
    this.version++;
  }
}
