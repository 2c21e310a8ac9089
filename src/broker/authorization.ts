import { ErrorCode } from '../protocol/errors.js';
import { AclOperation, CLUSTER_RESOURCE_NAME, ResourceType } from '../security/acl.js';
import { type RequestIdentity, SUPPORTED_OPERATIONS } from '../security/authorizer.js';
import type { Connection } from '../server/connection.js';
import { AUTHORIZED_OPERATIONS_OMITTED, type RequestContext } from './api-handler.js';
import { ConfigResourceType } from './config-describer.js';

export { AclOperation, ResourceType };

/** Node reports IPv4 clients of a dual-stack socket as `::ffff:a.b.c.d`; Kafka's ACL hosts name `a.b.c.d`. */
const IPV4_MAPPED_PREFIX = '::ffff:';

/** Who sends a request, as ACLs name it: the connection's principal and its client's address. */
export function identityOf(connection: Connection): RequestIdentity {
  const address = connection.remoteAddress;
  const host =
    address.startsWith(IPV4_MAPPED_PREFIX) && address.includes('.')
      ? address.slice(IPV4_MAPPED_PREFIX.length)
      : address;
  return { principal: connection.principal, host };
}

/**
 * Whether the request's principal may perform `operation` on the resource: the one check handlers call. Without
 * an authorizer (authorizer.class.name unset) it is true at once, so a broker without ACLs does no work for it.
 */
export function authorize(
  ctx: RequestContext,
  operation: AclOperation,
  resourceType: ResourceType,
  name: string,
): boolean {
  const authorizer = ctx.broker.authorizer;
  if (authorizer === null) return true;
  return authorizer.authorize(identityOf(ctx.connection), operation, resourceType, name);
}

/** `authorize` on the CLUSTER resource. */
export function authorizeCluster(ctx: RequestContext, operation: AclOperation): boolean {
  return authorize(ctx, operation, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME);
}

/** The answer of `authorizedNames`: whether a name was allowed. */
export interface AuthorizedNames {
  has(name: string): boolean;
}

/** Without an authorizer every name is allowed: one shared answer, nothing computed per request. */
const EVERY_NAME: AuthorizedNames = { has: () => true };

/**
 * The names among `names` the principal may perform `operation` on, each asked once (Kafka's
 * filterByAuthorized); all of them without an authorizer.
 */
export function authorizedNames(
  ctx: RequestContext,
  operation: AclOperation,
  resourceType: ResourceType,
  names: Iterable<string>,
): AuthorizedNames {
  const authorizer = ctx.broker.authorizer;
  if (authorizer === null) return EVERY_NAME;
  const who = identityOf(ctx.connection);
  const allowed = new Set<string>();
  const denied = new Set<string>();
  for (const name of names) {
    if (allowed.has(name) || denied.has(name)) continue;
    if (authorizer.authorize(who, operation, resourceType, name)) allowed.add(name);
    else denied.add(name);
  }
  return allowed;
}

/**
 * Kafka's authorizedOperations field, for a client that asked for it: the bit field of the operations the
 * principal may perform on the resource. Without an authorizer Kafka answers every supported operation.
 */
export function authorizedOperations(
  ctx: RequestContext,
  resourceType: ResourceType,
  name: string,
  asked = true,
): number {
  if (!asked) return AUTHORIZED_OPERATIONS_OMITTED;
  const authorizer = ctx.broker.authorizer;
  if (authorizer === null) {
    let bits = 0;
    for (const op of SUPPORTED_OPERATIONS.get(resourceType) ?? []) bits |= 1 << op;
    return bits;
  }
  return authorizer.authorizedOperations(identityOf(ctx.connection), resourceType, name);
}

/** The error code of a refused operation on a resource of this type, as Kafka answers it. */
export function authorizationError(resourceType: ResourceType): number {
  switch (resourceType) {
    case ResourceType.TOPIC:
      return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    case ResourceType.GROUP:
      return ErrorCode.GROUP_AUTHORIZATION_FAILED;
    case ResourceType.TRANSACTIONAL_ID:
      return ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    case ResourceType.DELEGATION_TOKEN:
      return ErrorCode.DELEGATION_TOKEN_AUTHORIZATION_FAILED;
    default:
      return ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  }
}

/**
 * Kafka's check of a config resource (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs): `operation` on the
 * topic, or on the cluster for a broker or broker logger. The error code, or NONE when allowed.
 */
export function configResourceError(
  ctx: RequestContext,
  operation: AclOperation,
  resourceType: number,
  resourceName: string,
): number {
  if (ctx.broker.authorizer === null) return ErrorCode.NONE;
  if (resourceType === ConfigResourceType.TOPIC)
    return authorize(ctx, operation, ResourceType.TOPIC, resourceName)
      ? ErrorCode.NONE
      : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (resourceType === ConfigResourceType.BROKER || resourceType === ConfigResourceType.BROKER_LOGGER)
    return authorizeCluster(ctx, operation) ? ErrorCode.NONE : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  return ErrorCode.NONE;
}
