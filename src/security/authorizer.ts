import {
  type AclBinding,
  AclOperation,
  AclPermissionType,
  PatternType,
  parsePrincipal,
  ResourceType,
  WILDCARD_HOST,
  WILDCARD_PRINCIPAL,
  WILDCARD_RESOURCE,
} from './acl.js';

/**
 * `authorizer.class.name` values that turn the authorizer on: Kafka's KRaft StandardAuthorizer, its ZooKeeper-era
 * AclAuthorizer and the 0.10-era SimpleAclAuthorizer. All three have the same rules for what an ACL allows.
 */
export const AUTHORIZER_CLASS_NAMES: ReadonlySet<string> = new Set([
  'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'kafka.security.authorizer.AclAuthorizer',
  'kafka.security.auth.SimpleAclAuthorizer',
]);

/** The operations Kafka reports in `authorizedOperations` per resource type (AclEntry.supportedOperations). */
export const SUPPORTED_OPERATIONS: ReadonlyMap<ResourceType, readonly AclOperation[]> = new Map<
  ResourceType,
  readonly AclOperation[]
>([
  [
    ResourceType.TOPIC,
    [
      AclOperation.READ,
      AclOperation.WRITE,
      AclOperation.CREATE,
      AclOperation.DESCRIBE,
      AclOperation.DELETE,
      AclOperation.ALTER,
      AclOperation.DESCRIBE_CONFIGS,
      AclOperation.ALTER_CONFIGS,
    ],
  ],
  [ResourceType.GROUP, [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE]],
  [
    ResourceType.CLUSTER,
    [
      AclOperation.CREATE,
      AclOperation.CLUSTER_ACTION,
      AclOperation.DESCRIBE_CONFIGS,
      AclOperation.ALTER_CONFIGS,
      AclOperation.IDEMPOTENT_WRITE,
      AclOperation.ALTER,
      AclOperation.DESCRIBE,
    ],
  ],
  [ResourceType.TRANSACTIONAL_ID, [AclOperation.DESCRIBE, AclOperation.WRITE]],
  [ResourceType.DELEGATION_TOKEN, [AclOperation.DESCRIBE]],
  [ResourceType.USER, [AclOperation.CREATE_TOKENS, AclOperation.DESCRIBE_TOKENS]],
]);

/** ALLOW ACLs of these operations also allow DESCRIBE (Kafka's AclOperation docs); DENY ones do not deny it. */
const IMPLIES_DESCRIBE: ReadonlySet<AclOperation> = new Set([
  AclOperation.DESCRIBE,
  AclOperation.READ,
  AclOperation.WRITE,
  AclOperation.DELETE,
  AclOperation.ALTER,
]);
/** ALLOW ACLs of these operations also allow DESCRIBE_CONFIGS. */
const IMPLIES_DESCRIBE_CONFIGS: ReadonlySet<AclOperation> = new Set([
  AclOperation.DESCRIBE_CONFIGS,
  AclOperation.ALTER_CONFIGS,
]);

/** Who asks: the connection's principal (`User:alice`) and its client address. */
export interface RequestIdentity {
  principal: string;
  host: string;
}

/** `super.users`: principals separated by semicolons (`User:admin;User:ops`), as Kafka reads them. */
export function parseSuperUsers(text: string): Set<string> {
  const out = new Set<string>();
  for (const entry of text.split(';')) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const p = parsePrincipal(trimmed);
    if (!p) throw new Error(`super.users: expected principals in the form Type:name, got ${JSON.stringify(trimmed)}`);
    out.add(`${p.type}:${p.name}`);
  }
  return out;
}

/** The ACLs of one resource type, indexed by pattern: literal names, and prefixes with the lengths present. */
class ResourceTypeAcls {
  readonly literal = new Map<string, AclBinding[]>();
  readonly prefixed = new Map<string, AclBinding[]>();
  /** How many prefixed patterns have each length: a name is looked up once per length, not per pattern. */
  readonly prefixLengths = new Map<number, number>();
  /** The lengths of `prefixLengths`, ascending. */
  prefixLengthList: number[] = [];

  updatePrefixLengths(length: number, delta: 1 | -1): void {
    const count = (this.prefixLengths.get(length) ?? 0) + delta;
    if (count > 0) this.prefixLengths.set(length, count);
    else this.prefixLengths.delete(length);
    this.prefixLengthList = [...this.prefixLengths.keys()].sort((a, b) => a - b);
  }
}

/**
 * Kafka's authorizer rules (StandardAuthorizer; AclAuthorizer decides the same): a super user may do anything;
 * otherwise the ACLs whose pattern matches the resource (its literal name, the literal wildcard `*`, or a
 * prefix of its name) decide: none at all means `allow.everyone.if.no.acl.found`; among those whose principal
 * (or `User:*`), host (or `*`) and operation (or ALL) match, a DENY wins over an ALLOW; an ALLOW of READ, WRITE,
 * DELETE or ALTER also allows DESCRIBE, and one of ALTER_CONFIGS also DESCRIBE_CONFIGS; nothing matching denies.
 */
export class Authorizer {
  private readonly byType = new Map<ResourceType, ResourceTypeAcls>();
  private count = 0;

  constructor(
    readonly superUsers: ReadonlySet<string>,
    readonly allowEveryoneIfNoAclFound: boolean,
  ) {}

  get size(): number {
    return this.count;
  }

  add(binding: AclBinding): void {
    const acls = this.acls(binding.resourceType);
    const index = binding.patternType === PatternType.PREFIXED ? acls.prefixed : acls.literal;
    const list = index.get(binding.resourceName);
    if (list?.some((b) => sameEntry(b, binding))) return;
    if (list) list.push(binding);
    else index.set(binding.resourceName, [binding]);
    if (binding.patternType === PatternType.PREFIXED) acls.updatePrefixLengths(binding.resourceName.length, 1);
    this.count++;
  }

  remove(binding: AclBinding): void {
    const acls = this.byType.get(binding.resourceType);
    if (!acls) return;
    const index = binding.patternType === PatternType.PREFIXED ? acls.prefixed : acls.literal;
    const list = index.get(binding.resourceName);
    const i = list?.findIndex((b) => sameEntry(b, binding)) ?? -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) index.delete(binding.resourceName);
    if (binding.patternType === PatternType.PREFIXED) acls.updatePrefixLengths(binding.resourceName.length, -1);
    this.count--;
  }

  /** Every ACL, for DescribeAcls and DeleteAcls filters. */
  *bindings(): Iterable<AclBinding> {
    for (const acls of this.byType.values()) {
      for (const list of acls.literal.values()) yield* list;
      for (const list of acls.prefixed.values()) yield* list;
    }
  }

  isSuperUser(principal: string): boolean {
    return this.superUsers.has(principal);
  }

  /** Whether `who` may perform `operation` on the resource `resourceType`/`name`. */
  authorize(who: RequestIdentity, operation: AclOperation, resourceType: ResourceType, name: string): boolean {
    if (this.superUsers.has(who.principal)) return true;
    const acls = this.byType.get(resourceType);
    if (!acls) return this.allowEveryoneIfNoAclFound;
    // The ACLs of every pattern matching the name: its literal name, the wildcard, and each prefix present.
    let found = false;
    let allowed = false;
    for (let i = -2; i < acls.prefixLengthList.length; i++) {
      let list: AclBinding[] | undefined;
      if (i === -2) list = acls.literal.get(name);
      else if (i === -1) list = name === WILDCARD_RESOURCE ? undefined : acls.literal.get(WILDCARD_RESOURCE);
      else {
        const length = acls.prefixLengthList[i]!;
        if (length > name.length) break;
        list = acls.prefixed.get(name.slice(0, length));
      }
      if (list === undefined) continue;
      found = true;
      for (const acl of list) {
        const result = decide(acl, who, operation);
        if (result === AclPermissionType.DENY) return false;
        if (result === AclPermissionType.ALLOW) allowed = true;
      }
    }
    if (!found) return this.allowEveryoneIfNoAclFound;
    return allowed;
  }

  /**
   * Kafka's Authorizer.authorizeByResourceType (KIP-679): whether `who` may perform `operation` on at least one
   * resource of the type, that is, an ALLOW of the operation (or ALL) on some literal or prefixed pattern that no
   * DENY of the same or a shorter prefix covers. Used for the idempotent producer's InitProducerId.
   */
  authorizeByResourceType(who: RequestIdentity, operation: AclOperation, resourceType: ResourceType): boolean {
    // A name no ACL is likely to name: super users are allowed whatever DENY ACLs say, and an empty type falls
    // to allow.everyone.if.no.acl.found, as Kafka checks it.
    if (this.authorize(who, operation, resourceType, 'hardcode')) return true;
    const acls = this.byType.get(resourceType);
    if (!acls) return false;
    const denyLiteral = new Set<string>();
    const denyPrefixed = new Set<string>();
    const allowLiteral: string[] = [];
    const allowPrefixed: string[] = [];
    let wildcardAllow = false;
    for (const [index, prefixed] of [
      [acls.literal, false],
      [acls.prefixed, true],
    ] as const) {
      for (const list of index.values()) {
        for (const acl of list) {
          if (acl.host !== who.host && acl.host !== WILDCARD_HOST) continue;
          if (acl.principal !== who.principal && acl.principal !== WILDCARD_PRINCIPAL) continue;
          if (acl.operation !== operation && acl.operation !== AclOperation.ALL) continue;
          if (acl.permissionType === AclPermissionType.DENY) {
            if (!prefixed && acl.resourceName === WILDCARD_RESOURCE) return false;
            (prefixed ? denyPrefixed : denyLiteral).add(acl.resourceName);
          } else if (acl.permissionType === AclPermissionType.ALLOW) {
            if (!prefixed && acl.resourceName === WILDCARD_RESOURCE) wildcardAllow = true;
            else (prefixed ? allowPrefixed : allowLiteral).push(acl.resourceName);
          }
        }
      }
    }
    if (wildcardAllow) return true;
    const deniedByPrefix = (name: string): boolean => {
      for (let length = 1; length <= name.length; length++) if (denyPrefixed.has(name.slice(0, length))) return true;
      return false;
    };
    for (const name of allowLiteral) if (!denyLiteral.has(name) && !deniedByPrefix(name)) return true;
    for (const name of allowPrefixed) if (!deniedByPrefix(name)) return true;
    return false;
  }

  /** Kafka's authorizedOperations bit field: bit `code` set for each supported operation `who` may perform. */
  authorizedOperations(who: RequestIdentity, resourceType: ResourceType, name: string): number {
    let bits = 0;
    for (const op of SUPPORTED_OPERATIONS.get(resourceType) ?? [])
      if (this.authorize(who, op, resourceType, name)) bits |= 1 << op;
    return bits;
  }

  private acls(resourceType: ResourceType): ResourceTypeAcls {
    let acls = this.byType.get(resourceType);
    if (!acls) {
      acls = new ResourceTypeAcls();
      this.byType.set(resourceType, acls);
    }
    return acls;
  }
}

function sameEntry(a: AclBinding, b: AclBinding): boolean {
  return (
    a.principal === b.principal &&
    a.host === b.host &&
    a.operation === b.operation &&
    a.permissionType === b.permissionType
  );
}

/** What one ACL of the resource says about the request: ALLOW, DENY, or nothing (UNKNOWN) when it does not apply. */
function decide(acl: AclBinding, who: RequestIdentity, operation: AclOperation): AclPermissionType {
  if (acl.principal !== who.principal && acl.principal !== WILDCARD_PRINCIPAL) return AclPermissionType.UNKNOWN;
  if (acl.host !== WILDCARD_HOST && acl.host !== who.host) return AclPermissionType.UNKNOWN;
  if (acl.operation !== AclOperation.ALL) {
    if (acl.permissionType === AclPermissionType.ALLOW) {
      const applies =
        operation === AclOperation.DESCRIBE
          ? IMPLIES_DESCRIBE.has(acl.operation)
          : operation === AclOperation.DESCRIBE_CONFIGS
            ? IMPLIES_DESCRIBE_CONFIGS.has(acl.operation)
            : acl.operation === operation;
      if (!applies) return AclPermissionType.UNKNOWN;
    } else if (acl.operation !== operation) return AclPermissionType.UNKNOWN;
  }
  return acl.permissionType;
}
