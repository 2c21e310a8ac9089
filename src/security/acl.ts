/**
 * Kafka's ACL vocabulary, with the wire codes of its enums (org.apache.kafka.common.acl and .resource): resource
 * types, pattern types, operations and permission types, and the ACL binding the authorizer keeps (the fields of
 * KRaft's StandardAcl).
 */
export const ResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;
export type ResourceType = (typeof ResourceType)[keyof typeof ResourceType];

export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export type PatternType = (typeof PatternType)[keyof typeof PatternType];

export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;
export type AclOperation = (typeof AclOperation)[keyof typeof AclOperation];

export const AclPermissionType = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;
export type AclPermissionType = (typeof AclPermissionType)[keyof typeof AclPermissionType];

/** The one name of the CLUSTER resource. */
export const CLUSTER_RESOURCE_NAME = 'kafka-cluster';
/** A literal resource name matching every resource of its type. */
export const WILDCARD_RESOURCE = '*';
/** An ACL principal matching every user. */
export const WILDCARD_PRINCIPAL = 'User:*';
/** An ACL host matching every client address. */
export const WILDCARD_HOST = '*';

function nameOf<T extends Record<string, number>>(table: T, code: number): string {
  for (const [name, c] of Object.entries(table)) if (c === code) return name;
  return 'UNKNOWN';
}

/** Kafka's name of a code (what kafka-acls.sh prints and the store keeps), UNKNOWN for codes it does not have. */
export const resourceTypeName = (code: number): string => nameOf(ResourceType, code);
export const patternTypeName = (code: number): string => nameOf(PatternType, code);
export const operationName = (code: number): string => nameOf(AclOperation, code);
export const permissionTypeName = (code: number): string => nameOf(AclPermissionType, code);

/** The code of a name, or UNKNOWN (0 in every table). */
export function codeOf<T extends Record<string, number>>(table: T, name: string): T[keyof T] {
  return (table[name.toUpperCase()] ?? 0) as T[keyof T];
}

/** One ACL: a resource pattern and an access control entry, as Kafka's AclBinding. */
export interface AclBinding {
  resourceType: ResourceType;
  resourceName: string;
  patternType: PatternType;
  principal: string;
  host: string;
  operation: AclOperation;
  permissionType: AclPermissionType;
}

/** A filter over ACL bindings, as Kafka's AclBindingFilter: a null name, principal or host matches any. */
export interface AclBindingFilter {
  resourceType: ResourceType;
  resourceName: string | null;
  patternType: PatternType;
  principal: string | null;
  host: string | null;
  operation: AclOperation;
  permissionType: AclPermissionType;
}

/** Whether a filter's fields are all known codes (Kafka refuses a filter with UNKNOWN elements). */
export function filterIsKnown(f: AclBindingFilter): boolean {
  return (
    resourceTypeName(f.resourceType) !== 'UNKNOWN' &&
    patternTypeName(f.patternType) !== 'UNKNOWN' &&
    operationName(f.operation) !== 'UNKNOWN' &&
    permissionTypeName(f.permissionType) !== 'UNKNOWN'
  );
}

/**
 * Kafka's ResourcePatternFilter.matches and AccessControlEntryFilter.matches: ANY matches every code; pattern
 * type MATCH matches the literal, wildcard and prefixed patterns that would apply to the filter's name.
 */
export function filterMatches(f: AclBindingFilter, b: AclBinding): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== b.resourceType) return false;
  if (f.patternType !== PatternType.ANY && f.patternType !== PatternType.MATCH && f.patternType !== b.patternType)
    return false;
  if (f.resourceName !== null) {
    if (f.patternType === PatternType.ANY || f.patternType === b.patternType) {
      if (f.resourceName !== b.resourceName) return false;
    } else if (b.patternType === PatternType.LITERAL) {
      if (f.resourceName !== b.resourceName && b.resourceName !== WILDCARD_RESOURCE) return false;
    } else if (!f.resourceName.startsWith(b.resourceName)) return false;
  }
  if (f.principal !== null && f.principal !== b.principal) return false;
  if (f.host !== null && f.host !== b.host) return false;
  if (f.operation !== AclOperation.ANY && f.operation !== b.operation) return false;
  if (f.permissionType !== AclPermissionType.ANY && f.permissionType !== b.permissionType) return false;
  return true;
}

/**
 * Why a binding cannot be created, as Kafka's AclControlManager.validateNewAcl and the CreateAcls handler say
 * it (both answer INVALID_REQUEST), or null.
 */
export function invalidBindingReason(b: AclBinding): string | null {
  if (
    b.resourceType === ResourceType.UNKNOWN ||
    b.resourceType === ResourceType.ANY ||
    !isKnown(ResourceType, b.resourceType)
  )
    return `Invalid resourceType ${resourceTypeName(b.resourceType)}`;
  if (b.patternType !== PatternType.LITERAL && b.patternType !== PatternType.PREFIXED)
    return `Invalid patternType ${patternTypeName(b.patternType)}`;
  if (b.operation === AclOperation.UNKNOWN || b.operation === AclOperation.ANY || !isKnown(AclOperation, b.operation))
    return `Invalid operation ${operationName(b.operation)}`;
  if (b.permissionType !== AclPermissionType.ALLOW && b.permissionType !== AclPermissionType.DENY)
    return `Invalid permissionType ${permissionTypeName(b.permissionType)}`;
  if (b.resourceName === '') return 'Resource name should not be empty';
  if (b.resourceType === ResourceType.CLUSTER && b.resourceName !== CLUSTER_RESOURCE_NAME)
    return `The only valid name for the CLUSTER resource is ${CLUSTER_RESOURCE_NAME}`;
  if (parsePrincipal(b.principal) === null)
    return `Could not parse principal from \`${b.principal}\` (no colon is present separating the principal type from the principal name)`;
  return null;
}

function isKnown(table: Record<string, number>, code: number): boolean {
  return Object.values(table).includes(code);
}

/** `Type:name` split at its first colon, as Kafka's SecurityUtils.parseKafkaPrincipal; null without a colon. */
export function parsePrincipal(text: string): { type: string; name: string } | null {
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  return { type: text.slice(0, colon), name: text.slice(colon + 1) };
}

/** A binding as Kafka's AclBinding.toString shows it (log lines, errors). */
export function describeBinding(b: AclBinding): string {
  return `(pattern=ResourcePattern(resourceType=${resourceTypeName(b.resourceType)}, name=${b.resourceName}, patternType=${patternTypeName(b.patternType)}), entry=(principal=${b.principal}, host=${b.host}, operation=${operationName(b.operation)}, permissionType=${permissionTypeName(b.permissionType)}))`;
}
