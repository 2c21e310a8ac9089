import { ErrorCode, errorInfo } from '../protocol/errors.js';
import type { ChangeResult, ConsoleBackend } from './console-backend.js';

/** A call of the console's JSON API, as a route sees it. */
export interface ApiRequest {
  /** The path's captures, URL-decoded. */
  params: string[];
  query: URLSearchParams;
  /** The parsed JSON body of a changing call; undefined for reads. */
  body: unknown;
}

export interface ApiReply {
  status: number;
  body: unknown;
}

/** One call of the API. `changes` marks the ones read-only mode refuses and the cross-site guard checks. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Matched against the whole path; its groups are the params. */
  path: RegExp;
  changes: boolean;
  handle(backend: ConsoleBackend, request: ApiRequest): Promise<ApiReply> | ApiReply;
}

/** A refused call: its HTTP status and Kafka's error name (or the console's) with a message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

export function ok(body: unknown, status = 200): ApiReply {
  return { status, body };
}

/** The HTTP status for a Kafka error the broker answered a change with. */
function statusOf(errorCode: number): number {
  switch (errorCode) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.UNKNOWN_TOPIC_ID:
    case ErrorCode.GROUP_ID_NOT_FOUND:
      return 404;
    case ErrorCode.TOPIC_ALREADY_EXISTS:
    case ErrorCode.NON_EMPTY_GROUP:
    case ErrorCode.REBALANCE_IN_PROGRESS:
    case ErrorCode.UNKNOWN_MEMBER_ID:
      return 409;
    case ErrorCode.TOPIC_AUTHORIZATION_FAILED:
    case ErrorCode.TOPIC_DELETION_DISABLED:
    case ErrorCode.POLICY_VIOLATION:
      return 403;
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
      return 503;
    case ErrorCode.KAFKA_STORAGE_ERROR:
    case ErrorCode.UNKNOWN_SERVER_ERROR:
      return 500;
    default:
      return 400;
  }
}

/** Throws the Kafka error of a change that failed, as an ApiError carrying its name and message. */
export function checkChange(result: ChangeResult): void {
  if (result.errorCode === ErrorCode.NONE) return;
  const name = errorInfo(result.errorCode)?.name ?? `ERROR_${result.errorCode}`;
  throw new ApiError(statusOf(result.errorCode), name, result.errorMessage ?? name);
}

/** A whole number from a query parameter or a body field, within bounds; `fallback` when absent. */
export function intParam(
  value: unknown,
  what: string,
  fallback: number | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === null || value === undefined || value === '') {
    if (fallback === undefined) throw new ApiError(400, 'INVALID_REQUEST', `${what} is required`);
    return fallback;
  }
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new ApiError(400, 'INVALID_REQUEST', `${what} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The body as an object of fields, or a 400. */
export function fields(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError(400, 'INVALID_REQUEST', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}
