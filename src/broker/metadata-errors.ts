import { MetadataStoreUnreachableError } from '../cluster/metadata-store.js';
import { ErrorCode } from '../protocol/errors.js';

/** What a client is told when a change could not be written because the metadata store is out of reach. */
export const METADATA_STORE_UNREACHABLE_MESSAGE =
  'The change was not confirmed in time (the metadata store, etcd, did not answer): it may still be applied; try again.';

/**
 * Kafka's answer to a request that must write to the metadata store while the store cannot be reached:
 * REQUEST_TIMED_OUT (Kafka's brokers answer so when the controller does not answer within the request's timeout;
 * the write may still be applied later, as there), or null for any other failure.
 */
export function metadataStoreError(error: unknown): { errorCode: number; errorMessage: string } | null {
  return error instanceof MetadataStoreUnreachableError
    ? { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: METADATA_STORE_UNREACHABLE_MESSAGE }
    : null;
}

/** What `beforeDeadline` gives when the deadline came first. */
export const DEADLINE_PASSED = Symbol('deadline passed');

/**
 * The deadline of an admin request that carries its own timeout (CreateTopics, DeleteTopics, CreatePartitions):
 * `timeoutMs` from now, or none for 0 or less (Kafka's "do not wait", where the write is still made here).
 */
export function requestDeadline(timeoutMs: number): number {
  return timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
}

/**
 * `work`'s outcome, or DEADLINE_PASSED when `deadline` comes first: the request is answered REQUEST_TIMED_OUT
 * then, as Kafka's controller answers a request whose change is not done within its timeout, and the change may
 * still complete (its failure after the deadline is only logged by whoever made it).
 */
export async function beforeDeadline<T>(work: Promise<T>, deadline: number): Promise<T | typeof DEADLINE_PASSED> {
  if (deadline === Number.POSITIVE_INFINITY) return work;
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const passed = new Promise<typeof DEADLINE_PASSED>((resolve) => {
    timer = setTimeout(() => resolve(DEADLINE_PASSED), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([work, passed]);
  } finally {
    clearTimeout(timer);
  }
}
