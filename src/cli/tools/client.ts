import zlib from 'node:zlib';
import type { Admin } from '@platformatic/kafka';
import type { ParsedFlags } from './args.js';
import { type ClientSecurity, clientSecurity, readClientProperties } from './client-security.js';

/** Connection attempts before a tool gives up on the broker (Kafka's tools wait longer; a tool should not hang). */
const TOOL_RETRIES = 2;
const TOOL_RETRY_DELAY_MS = 250;
const TOOL_TIMEOUT_MS = 10_000;
const CLIENT_ID = 'samsa-tools';

/** A failure at run time that is already one line for the user (exit code 1). */
export class ToolError extends Error {
  override readonly name = 'ToolError';
}

type ClientLibrary = typeof import('@platformatic/kafka');
let library: Promise<ClientLibrary> | null = null;

/**
 * @platformatic/kafka compresses and decompresses zstd with node:zlib, which has zstd from Node 22.15 on. On
 * older Node (Samsa supports 20) the tools lend node:zlib Samsa's own zstd codec, so that they can write zstd
 * and read topics holding zstd batches. The library looks the functions up once, when it loads; hence it is
 * loaded here, with a dynamic import, after the codec is in place, and never imported statically for its values.
 */
async function provideZstd(): Promise<void> {
  const codecs = zlib as unknown as Record<string, unknown>;
  if (typeof codecs['zstdCompressSync'] === 'function') return;
  const { compress, decompress, CompressionType } = await import('../../protocol/records/compression/index.js');
  codecs['zstdCompressSync'] = (data: Buffer) => compress(CompressionType.Zstd, data);
  codecs['zstdDecompressSync'] = (data: Buffer) => decompress(CompressionType.Zstd, data);
}

/** The client library, loaded once. */
export function clientLibrary(): Promise<ClientLibrary> {
  library ??= provideZstd().then(() => import('@platformatic/kafka'));
  return library;
}

/** The client options every tool uses, with the connection's TLS and SASL settings. */
export function clientOptions(bootstrap: string[], security: ClientSecurity = {}) {
  return {
    clientId: CLIENT_ID,
    bootstrapBrokers: bootstrap,
    retries: TOOL_RETRIES,
    retryDelay: TOOL_RETRY_DELAY_MS,
    timeout: TOOL_TIMEOUT_MS,
    ...security,
  };
}

/** An admin client; `timeoutMs` replaces the tools' request timeout (Kafka's --timeout of some tools). */
export async function adminClient(
  bootstrap: string[],
  security: ClientSecurity = {},
  timeoutMs?: number,
): Promise<Admin> {
  const { Admin } = await clientLibrary();
  return new Admin({ ...clientOptions(bootstrap, security), ...(timeoutMs !== undefined && { timeout: timeoutMs }) });
}

/** The security of Kafka's --command-config file, for the tools that talk to brokers through an admin client. */
export async function commandConfigSecurity(flags: ParsedFlags): Promise<ClientSecurity> {
  return clientSecurity(await readClientProperties(flags.values.get('command-config'), 'command-config'));
}

/** Socket errors that mean no broker answered at that address. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
]);
/** Node's codes for certificate checks and TLS handshakes that failed. */
const TLS_ERROR_CODES =
  /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_SELF_SIGNED|CERT_|HOSTNAME_MISMATCH|EPROTO$)/;
/** The client library's code for a connection that failed or timed out without a socket error underneath. */
const CLIENT_NETWORK_ERROR = 'PLT_KFK_NETWORK';

interface ClientError {
  code?: string;
  message?: string;
  errors?: unknown[];
  cause?: unknown;
  apiId?: string;
  serverErrorMessage?: string | null;
}

/** Nesting the tools look through: the client wraps errors in errors, in lists of errors. */
const MAX_ERROR_DEPTH = 5;

/** The network failure behind a client error, looking through the client's wrapped and aggregated errors. */
function networkCause(error: unknown, depth = 0): ClientError | null {
  if (!error || typeof error !== 'object' || depth > MAX_ERROR_DEPTH) return null;
  const e = error as ClientError;
  if (e.code && UNREACHABLE_CODES.has(e.code)) return e;
  for (const inner of [e.cause, ...(e.errors ?? [])]) {
    const found = networkCause(inner, depth + 1);
    if (found) return found;
  }
  return e.code === CLIENT_NETWORK_ERROR ? e : null;
}

/**
 * The broker's answer to a failed SASL authentication, looking through the client's wrapped errors: Kafka's
 * clients report it as a SaslAuthenticationException with the broker's message.
 */
function authenticationFailure(error: unknown, depth = 0): string | null {
  if (!error || typeof error !== 'object' || depth > MAX_ERROR_DEPTH) return null;
  const e = error as ClientError;
  if (e.apiId === 'SASL_AUTHENTICATION_FAILED') return e.serverErrorMessage || 'Authentication failed';
  for (const inner of [e.cause, ...(e.errors ?? [])]) {
    const found = authenticationFailure(inner, depth + 1);
    if (found) return found;
  }
  return null;
}

/** A TLS failure behind a client error (an untrusted or misnamed certificate, a refused handshake). */
function tlsFailure(error: unknown, depth = 0): ClientError | null {
  if (!error || typeof error !== 'object' || depth > MAX_ERROR_DEPTH) return null;
  const e = error as ClientError;
  if (e.code && TLS_ERROR_CODES.test(e.code)) return e;
  for (const inner of [e.cause, ...(e.errors ?? [])]) {
    const found = tlsFailure(inner, depth + 1);
    if (found) return found;
  }
  return null;
}

/** The innermost messages of a client error: Kafka's error name and the broker's message where given. */
function leafMessages(error: unknown, depth = 0): string[] {
  const e = error as ClientError;
  if (e.errors?.length && depth < MAX_ERROR_DEPTH) return e.errors.flatMap((inner) => leafMessages(inner, depth + 1));
  if (e.apiId) return [e.serverErrorMessage ? `${e.apiId}: ${e.serverErrorMessage}` : e.apiId];
  return [e.message ?? String(error)];
}

/** One line for a failed tool run: what went wrong, whether the broker could not be reached, or what it said. */
export function describeFailure(tool: string, bootstrap: string[], error: unknown): string {
  if (error instanceof ToolError) return `samsa ${tool}: ${error.message}`;
  const authentication = authenticationFailure(error);
  if (authentication) return `samsa ${tool}: ${authentication}`;
  const tls = tlsFailure(error);
  if (tls) return `samsa ${tool}: SSL handshake failed with ${bootstrap.join(',')} (${tls.message || tls.code})`;
  const network = networkCause(error);
  if (network) {
    // "connect ECONNREFUSED 127.0.0.1:9092" says more than the code alone; an AggregateError has no message.
    const reason = network.message || network.code;
    return `samsa ${tool}: cannot reach a broker at ${bootstrap.join(',')} (${reason})`;
  }
  return `samsa ${tool}: ${[...new Set(leafMessages(error))].join('; ')}`;
}
