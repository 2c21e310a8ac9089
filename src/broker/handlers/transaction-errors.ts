import { ErrorCode } from '../../protocol/errors.js';

/**
 * PRODUCER_FENCED (KIP-588) is only known to clients of the newer request versions; older ones get
 * INVALID_PRODUCER_EPOCH, which they handle the same way, as Kafka does.
 */
export function fencedForVersion(errorCode: number, apiVersion: number, firstVersionWithFenced: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && apiVersion < firstVersionWithFenced
    ? ErrorCode.INVALID_PRODUCER_EPOCH
    : errorCode;
}
