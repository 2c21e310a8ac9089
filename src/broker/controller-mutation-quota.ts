import type { RequestContext } from './api-handler.js';
import { type ControllerMutationQuota, quotaUser } from './client-quota-manager.js';

/** Kafka's message for THROTTLING_QUOTA_EXCEEDED. */
export const THROTTLING_QUOTA_EXCEEDED_MESSAGE = 'The throttling quota has been exceeded.';

/** A request's controller mutation quota, and the throttle its answer carries once the mutations are done. */
export interface RequestMutationQuota {
  /** Counts a topic's partitions; false when the topic must be refused with THROTTLING_QUOTA_EXCEEDED. */
  record(partitions: number): boolean;
  /** The time to wait, for the answer's throttle_time_ms; the connection is muted for as long (KIP-219). */
  throttle(ctx: RequestContext): number;
}

/**
 * The controller_mutation_rate quota (KIP-599) of a CreateTopics, CreatePartitions or DeleteTopics request:
 * strict from `strictSinceVersion` (a topic over the quota is refused), permissive below it (everything passes,
 * the answer says how long to wait).
 */
export function controllerMutationQuota(ctx: RequestContext, strictSinceVersion: number): RequestMutationQuota {
  const quota: ControllerMutationQuota = ctx.broker.quotaManager.controllerMutationQuota(
    quotaUser(ctx.connection.principal),
    ctx.header.clientId ?? '',
    ctx.apiVersion >= strictSinceVersion,
  );
  return {
    record: (partitions) => quota.record(partitions),
    throttle: ({ connection }) => {
      const throttleTimeMs = quota.throttleTimeMs();
      connection.throttle(throttleTimeMs);
      return throttleTimeMs;
    },
  };
}
