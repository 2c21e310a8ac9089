import {
  type AclBinding,
  AclOperation,
  AclPermissionType,
  codeOf,
  operationName,
  PatternType,
  patternTypeName,
  permissionTypeName,
  ResourceType,
  resourceTypeName,
} from '../security/acl.js';
import type { Authorizer } from '../security/authorizer.js';
import type { MetadataStore } from './metadata-store.js';
import { PrefixFollower } from './prefix-follower.js';

/**
 * Keys of the ACLs in the metadata store, one key per ACL named by all its fields (so that creating an ACL that
 * exists changes nothing, as in Kafka): `<prefix><resource type>/<pattern type>/<resource name>/<principal>/
 * <host>/<operation>/<permission type>`, names URI-encoded. The value holds the same fields as JSON, with
 * Kafka's names for the enums (the data of KRaft's AccessControlEntryRecord).
 */
export const ACLS_PREFIX = '/acls/';

export function aclKey(b: AclBinding): string {
  return `${ACLS_PREFIX}${[
    resourceTypeName(b.resourceType),
    patternTypeName(b.patternType),
    b.resourceName,
    b.principal,
    b.host,
    operationName(b.operation),
    permissionTypeName(b.permissionType),
  ]
    .map(encodeURIComponent)
    .join('/')}`;
}

interface StoredAcl {
  resourceType: string;
  resourceName: string;
  patternType: string;
  principal: string;
  host: string;
  operation: string;
  permissionType: string;
}

function encode(b: AclBinding): string {
  const stored: StoredAcl = {
    resourceType: resourceTypeName(b.resourceType),
    resourceName: b.resourceName,
    patternType: patternTypeName(b.patternType),
    principal: b.principal,
    host: b.host,
    operation: operationName(b.operation),
    permissionType: permissionTypeName(b.permissionType),
  };
  return JSON.stringify(stored);
}

function decode(text: string): AclBinding | null {
  const v = JSON.parse(text) as Partial<StoredAcl>;
  for (const field of [
    'resourceType',
    'resourceName',
    'patternType',
    'principal',
    'host',
    'operation',
    'permissionType',
  ])
    if (typeof v[field as keyof StoredAcl] !== 'string') return null;
  return {
    resourceType: codeOf(ResourceType, v.resourceType!),
    resourceName: v.resourceName!,
    patternType: codeOf(PatternType, v.patternType!),
    principal: v.principal!,
    host: v.host!,
    operation: codeOf(AclOperation, v.operation!),
    permissionType: codeOf(AclPermissionType, v.permissionType!),
  };
}

/**
 * The cluster's ACLs: loaded into the authorizer at start-up and kept current by watching the store, so that an
 * ACL created or deleted through any broker is enforced by every broker.
 */
export class AclMetadata {
  /** The ACL under each key, to remove it from the authorizer when its key is deleted. */
  private readonly byKey = new Map<string, AclBinding>();
  private readonly follower = new PrefixFollower(decode, (key, binding: AclBinding | null) => this.set(key, binding));

  private constructor(
    private readonly store: MetadataStore,
    private readonly authorizer: Authorizer,
  ) {}

  static async load(
    store: MetadataStore,
    authorizer: Authorizer,
    onError?: (error: Error) => void,
  ): Promise<AclMetadata> {
    const m = new AclMetadata(store, authorizer);
    await m.follower.start(store, ACLS_PREFIX, onError);
    return m;
  }

  /**
   * Stores the ACLs in one transaction of the store, then enforces them at once. ACLs that exist already, or that
   * occur twice, are written once or not at all (a transaction may not name a key twice).
   */
  async create(bindings: readonly AclBinding[]): Promise<void> {
    const added = new Map<string, AclBinding>();
    for (const b of bindings) {
      const key = aclKey(b);
      if (!this.byKey.has(key)) added.set(key, b);
    }
    if (added.size === 0) return;
    const r = await this.store.txn(
      [],
      [...added].map(([key, b]) => ({ type: 'put', key, value: encode(b) })),
    );
    for (const [key, b] of added) this.follower.written(key, b, r.revision);
  }

  /** Removes the ACLs in one transaction of the store, then stops enforcing them. */
  async delete(bindings: readonly AclBinding[]): Promise<void> {
    if (bindings.length === 0) return;
    const keys = [...new Set(bindings.map(aclKey))];
    const r = await this.store.txn(
      [],
      keys.map((key) => ({ type: 'delete', key })),
    );
    for (const key of keys) this.follower.written(key, null, r.revision);
  }

  close(): void {
    this.follower.close();
  }

  private set(key: string, binding: AclBinding | null): void {
    const old = this.byKey.get(key);
    if (old) {
      this.authorizer.remove(old);
      this.byKey.delete(key);
    }
    if (binding) {
      this.authorizer.add(binding);
      this.byKey.set(key, binding);
    }
  }
}
