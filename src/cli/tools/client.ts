import { Admin } from '@platformatic/kafka';

/** Connection attempts before a tool gives up on the broker (Kafka's tools wait longer; a tool should not hang). */
const TOOL_RETRIES = 2;
const TOOL_RETRY_DELAY_MS = 250;
const TOOL_TIMEOUT_MS = 10_000;
const CLIENT_ID = 'samsa-tools';

/** The client options every tool uses. */
export function clientOptions(bootstrap: string[]) {
  return {
    clientId: CLIENT_ID,
    bootstrapBrokers: bootstrap,
    retries: TOOL_RETRIES,
    retryDelay: TOOL_RETRY_DELAY_MS,
    timeout: TOOL_TIMEOUT_MS,
  };
}

export function adminClient(bootstrap: string[]): Admin {
  return new Admin(clientOptions(bootstrap));
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
]);

/** The socket error behind a client error, looking through the client's wrapped and aggregated errors. */
function networkCause(error: unknown, depth = 0): NodeJS.ErrnoException | null {
  if (!error || typeof error !== 'object' || depth > 5) return null;
  const e = error as NodeJS.ErrnoException & { errors?: unknown[]; cause?: unknown };
  if (e.code && UNREACHABLE_CODES.has(e.code)) return e;
  for (const inner of [e.cause, ...(e.errors ?? [])]) {
    const found = networkCause(inner, depth + 1);
    if (found) return found;
  }
  return null;
}

/** The innermost messages of a client error: Kafka's error name and the broker's message where given. */
function leafMessages(error: unknown, depth = 0): string[] {
  const e = error as Error & { errors?: unknown[]; apiId?: string; serverErrorMessage?: string | null };
  if (e.errors?.length && depth < 5) return e.errors.flatMap((inner) => leafMessages(inner, depth + 1));
  if (e.apiId) return [e.serverErrorMessage ? `${e.apiId}: ${e.serverErrorMessage}` : e.apiId];
  return [e.message];
}

/** One line for a failed tool run: whether the broker could not be reached, or what it said. */
export function describeFailure(tool: string, bootstrap: string[], error: unknown): string {
  const network = networkCause(error);
  if (network) return `samsa ${tool}: cannot reach a broker at ${bootstrap.join(',')} (${network.code})`;
  return `samsa ${tool}: ${[...new Set(leafMessages(error))].join('; ')}`;
}
