import { randomBytes } from 'node:crypto';
import type { Admin } from '@platformatic/kafka';
import { ErrorCode } from '../../protocol/errors.js';
import { alterUserScramCredentialsApi } from '../../protocol/generated/apis/alter-user-scram-credentials.js';
import { describeUserScramCredentialsApi } from '../../protocol/generated/apis/describe-user-scram-credentials.js';
import {
  SCRAM_MAX_ITERATIONS,
  SCRAM_MECHANISMS,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanismName,
  scramMechanismOfType,
  scramSaltedPassword,
} from '../../security/scram.js';
import { UsageError } from './args.js';
import { BrokerConnection } from './broker-request.js';
import { ToolError } from './client.js';
import type { ClientSecurity } from './client-security.js';

/** Kafka's default iterations for a credential added by kafka-configs.sh (ScramCredentialUtils). */
const DEFAULT_ITERATIONS = 4096;
/** Bytes of random salt per credential (Kafka's ScramFormatter uses a secure random of this size). */
const SALT_BYTES = 32;

/** What --alter asks of a user's SCRAM credentials: mechanisms to set (with iterations and password), to delete. */
export interface ScramChange {
  upsert: Array<{ mechanism: ScramMechanismName; iterations: number; password: string }>;
  remove: ScramMechanismName[];
}

function mechanismName(name: string): ScramMechanismName {
  if (!(name in SCRAM_MECHANISMS))
    throw new UsageError(`${name} is not a SCRAM mechanism: expected ${Object.keys(SCRAM_MECHANISMS).join(' or ')}`);
  return name as ScramMechanismName;
}

/**
 * Kafka's --add-config for users: `SCRAM-SHA-256=[iterations=8192,password=secret]` (iterations optional), and
 * --delete-config `SCRAM-SHA-256`. The tool salts and hashes the password; only the salted password is sent.
 */
export function parseScramChange(add: ReadonlyMap<string, string>, remove: readonly string[]): ScramChange {
  const upsert: ScramChange['upsert'] = [];
  for (const [name, value] of add) {
    const mechanism = mechanismName(name);
    const fields = new Map<string, string>();
    for (const part of value.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new UsageError(`${name} needs [iterations=N,password=P], not '[${value}]'`);
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1));
    }
    const password = fields.get('password');
    if (password === undefined) throw new UsageError(`${name} needs a password: ${name}=[password=...]`);
    const iterationsText = fields.get('iterations');
    const iterations = iterationsText === undefined ? DEFAULT_ITERATIONS : Number(iterationsText);
    if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS)
      throw new UsageError(
        `${name} iterations must be between ${SCRAM_MIN_ITERATIONS} and ${SCRAM_MAX_ITERATIONS}, not '${iterationsText}'`,
      );
    for (const key of fields.keys())
      if (key !== 'password' && key !== 'iterations') throw new UsageError(`${name}: unknown field ${key}`);
    upsert.push({ mechanism, iterations, password });
  }
  return { upsert, remove: remove.map(mechanismName) };
}

/** A broker to send the credential requests to: the first one metadata names (any broker answers them). */
async function anyBroker(admin: Admin, bootstrap: string[], security: ClientSecurity): Promise<BrokerConnection> {
  const metadata = await admin.metadata({ topics: [] });
  const [broker] = [...metadata.brokers].sort(([a], [b]) => a - b);
  if (!broker) throw new ToolError('no broker in the cluster metadata');
  return BrokerConnection.open(broker[1].host, broker[1].port, bootstrap, security);
}

/** AlterUserScramCredentials for one user; a refusal is the broker's message. */
export async function alterScramCredentials(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  user: string,
  change: ScramChange,
): Promise<void> {
  const connection = await anyBroker(admin, bootstrap, security);
  try {
    const response = await connection.request(alterUserScramCredentialsApi, 0, {
      deletions: change.remove.map((m) => ({ name: user, mechanism: SCRAM_MECHANISMS[m].type })),
      upsertions: change.upsert.map((u) => {
        const salt = randomBytes(SALT_BYTES);
        return {
          name: user,
          mechanism: SCRAM_MECHANISMS[u.mechanism].type,
          iterations: u.iterations,
          salt,
          saltedPassword: scramSaltedPassword(u.mechanism, u.password, salt, u.iterations),
        };
      }),
    });
    const failed = response.results.find((r) => r.errorCode !== ErrorCode.NONE);
    if (failed)
      throw new ToolError(failed.errorMessage ?? `AlterUserScramCredentials failed with error ${failed.errorCode}`);
  } finally {
    await connection.close();
  }
}

/**
 * Kafka's --describe for users: "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=
 * 4096", one line per user with credentials (every such user when none is named).
 */
export async function describeScramCredentials(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  user: string | undefined,
): Promise<string> {
  const connection = await anyBroker(admin, bootstrap, security);
  try {
    const response = await connection.request(describeUserScramCredentialsApi, 0, {
      users: user === undefined ? null : [{ name: user }],
    });
    if (response.errorCode !== ErrorCode.NONE)
      throw new ToolError(
        response.errorMessage ?? `DescribeUserScramCredentials failed with error ${response.errorCode}`,
      );
    const lines: string[] = [];
    for (const r of response.results) {
      // A named user without credentials has none to print, as in Kafka's tool.
      if (r.errorCode === ErrorCode.RESOURCE_NOT_FOUND) continue;
      if (r.errorCode !== ErrorCode.NONE) throw new ToolError(r.errorMessage ?? `error ${r.errorCode} for ${r.user}`);
      const infos = r.credentialInfos.map(
        (i) => `${scramMechanismOfType(i.mechanism) ?? i.mechanism}=iterations=${i.iterations}`,
      );
      lines.push(`SCRAM credential configs for user-principal '${r.user}' are ${infos.join(', ')}`);
    }
    return lines.join('\n');
  } finally {
    await connection.close();
  }
}
