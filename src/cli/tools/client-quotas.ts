import type { Admin } from '@platformatic/kafka';
import { ErrorCode } from '../../protocol/errors.js';
import { alterClientQuotasApi } from '../../protocol/generated/apis/alter-client-quotas.js';
import { describeClientQuotasApi } from '../../protocol/generated/apis/describe-client-quotas.js';
import { UsageError } from './args.js';
import { BrokerConnection } from './broker-request.js';
import { ToolError } from './client.js';
import type { ClientSecurity } from './client-security.js';

/** The quota entity types of kafka-configs.sh, and the names the protocol gives them. */
export const QUOTA_ENTITY_TYPES = { users: 'user', clients: 'client-id', ips: 'ip' } as const;
export type QuotaEntityTypeName = keyof typeof QUOTA_ENTITY_TYPES;

/** One part of a quota entity: a name, null for the default, undefined for any (--describe without a name). */
export interface QuotaEntityPart {
  type: QuotaEntityTypeName;
  name: string | null | undefined;
}

/** DescribeClientQuotas match types. */
const MATCH_EXACT = 0;
const MATCH_DEFAULT = 1;
const MATCH_ANY = 2;

/** The names kafka-configs.sh gives each entity type in its --describe lines. */
const DESCRIBED_AS: Record<string, string> = { user: 'user-principal', 'client-id': 'client-id', ip: 'ip' };

/**
 * Kafka's quota values in --add-config (`producer_byte_rate=1024`): numbers, whose checks (which keys, whole or
 * not, positive) are the broker's, so that the tool refuses what Kafka's broker refuses, with its message.
 */
export function parseQuotaValues(add: ReadonlyMap<string, string>): Map<string, number> {
  const values = new Map<string, number>();
  for (const [key, text] of add) {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${key} needs a number, not '${text}'`);
    values.set(key, value);
  }
  return values;
}

/** Java's Double.toString, as kafka-configs.sh prints quota values (1024.0, 0.5, 1.0E9). */
export function javaDouble(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude === 0 || (magnitude >= 1e-3 && magnitude < 1e7))
    return Number.isInteger(value) ? `${value}.0` : String(value);
  const [mantissa, exponent] = value.toExponential().split('e');
  return `${mantissa!.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

/** A broker to send the quota requests to: the first one metadata names (any broker answers them). */
async function anyBroker(admin: Admin, bootstrap: string[], security: ClientSecurity): Promise<BrokerConnection> {
  const metadata = await admin.metadata({ topics: [] });
  const [broker] = [...metadata.brokers].sort(([a], [b]) => a - b);
  if (!broker) throw new ToolError('no broker in the cluster metadata');
  return BrokerConnection.open(broker[1].host, broker[1].port, bootstrap, security);
}

/** AlterClientQuotas for one entity: the values to set and the keys to remove; a refusal is the broker's message. */
export async function alterClientQuotas(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  entity: readonly QuotaEntityPart[],
  set: ReadonlyMap<string, number>,
  remove: readonly string[],
): Promise<void> {
  const connection = await anyBroker(admin, bootstrap, security);
  try {
    const response = await connection.request(alterClientQuotasApi, 1, {
      entries: [
        {
          entity: entity.map((e) => ({ entityType: QUOTA_ENTITY_TYPES[e.type], entityName: e.name ?? null })),
          ops: [
            ...[...set].map(([key, value]) => ({ key, value, remove: false })),
            ...remove.map((key) => ({ key, value: 0, remove: true })),
          ],
        },
      ],
      validateOnly: false,
    });
    const failed = response.entries.find((e) => e.errorCode !== ErrorCode.NONE);
    if (failed) throw new ToolError(failed.errorMessage ?? `AlterClientQuotas failed with error ${failed.errorCode}`);
  } finally {
    await connection.close();
  }
}

/**
 * Kafka's --describe for quota entities: "Quota configs for user-principal 'alice', client-id 'app' are
 * producer_byte_rate=1024.0", one line per entity that has exactly the types asked for (a strict filter).
 */
export async function describeClientQuotas(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  entity: readonly QuotaEntityPart[],
): Promise<string[]> {
  const connection = await anyBroker(admin, bootstrap, security);
  try {
    const response = await connection.request(describeClientQuotasApi, 1, {
      components: entity.map((e) => ({
        entityType: QUOTA_ENTITY_TYPES[e.type],
        matchType: e.name === undefined ? MATCH_ANY : e.name === null ? MATCH_DEFAULT : MATCH_EXACT,
        match: e.name ?? null,
      })),
      strict: true,
    });
    if (response.errorCode !== ErrorCode.NONE)
      throw new ToolError(response.errorMessage ?? `DescribeClientQuotas failed with error ${response.errorCode}`);
    return (response.entries ?? []).map((e) => {
      // Kafka's order: user, then client id, then ip.
      const parts = ['user', 'client-id', 'ip'].flatMap((type) => {
        const part = e.entity.find((p) => p.entityType === type);
        if (!part) return [];
        const label = DESCRIBED_AS[type]!;
        return [part.entityName === null ? `the default ${label}` : `${label} '${part.entityName}'`];
      });
      const values = e.values.map((v) => `${v.key}=${javaDouble(v.value)}`).join(', ');
      return `Quota configs for ${parts.join(', ')} are ${values}`;
    });
  } finally {
    await connection.close();
  }
}
