import { type ApiCodecs, apis } from '../../protocol/generated/index.js';
import { bootstrapServers, FAILURE_EXIT_CODE, parseFlags, usageExit } from './args.js';
import { adminClient, commandConfigSecurity, describeFailure } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';

const BROKER_API_VERSIONS_USAGE = `usage: samsa broker-api-versions --bootstrap-server HOST:PORT

Prints, for every broker of the cluster, the API versions it supports and the newest one usable with this
tool's protocol table (as Kafka's kafka-broker-api-versions.sh).

${COMMAND_CONFIG_HELP}`;

const FLAGS = { 'bootstrap-server': 'value', 'command-config': 'value' } as const;

/** The listener whose APIs are Kafka's client APIs (ApiKeys.clientApis). */
const CLIENT_LISTENER = 'broker';

interface AdvertisedApi {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

const KNOWN: ReadonlyMap<number, ApiCodecs<unknown, unknown>> = new Map(
  Object.values(apis).map((api) => [api.key, api as ApiCodecs<unknown, unknown>]),
);

/** The newest version this side speaks: an unstable newest version is never used. */
function latestVersion(api: ApiCodecs<unknown, unknown>): number {
  return api.latestVersionUnstable ? api.maxVersion - 1 : api.maxVersion;
}

/** One API as Kafka's NodeApiVersions prints it: name(key): range [usable: v]. */
function apiText(advertised: AdvertisedApi): string {
  const api = KNOWN.get(advertised.apiKey);
  const range =
    advertised.minVersion === advertised.maxVersion
      ? `${advertised.minVersion}`
      : `${advertised.minVersion} to ${advertised.maxVersion}`;
  if (!api) return `UNKNOWN(${advertised.apiKey}): ${range}`;
  const latest = latestVersion(api);
  let usable: string;
  if (latest < advertised.minVersion) usable = 'unusable: node too new';
  else if (advertised.maxVersion < api.minVersion) usable = 'unusable: node too old';
  else usable = `usable: ${Math.min(latest, advertised.maxVersion)}`;
  return `${api.name}(${api.key}): ${range} [${usable}]`;
}

/** Kafka's NodeApiVersions.toString(true): every advertised API, and the client APIs the node lacks. */
export function formatApiVersions(advertised: readonly AdvertisedApi[]): string {
  const byKey = new Map<number, string>();
  for (const a of advertised) byKey.set(a.apiKey, apiText(a));
  for (const api of KNOWN.values()) {
    if (!byKey.has(api.key) && api.listeners.includes(CLIENT_LISTENER))
      byKey.set(api.key, `${api.name}(${api.key}): UNSUPPORTED`);
  }
  const lines = [...byKey].sort(([a], [b]) => a - b).map(([, text]) => text);
  return `(\n\t${lines.join(',\n\t')}\n)`;
}

/** `samsa broker-api-versions`: Kafka's kafka-broker-api-versions.sh. Returns the exit code. */
export async function runBrokerApiVersions(argv: string[]): Promise<number> {
  let bootstrap: string[];
  let security: ClientSecurity;
  try {
    const flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return usageExit('broker-api-versions', BROKER_API_VERSIONS_USAGE, e);
  }
  const admin = await adminClient(bootstrap, security);
  try {
    const metadata = await admin.metadata({ topics: [] });
    const brokers = [...metadata.brokers].sort(([a], [b]) => a - b);
    for (const [id, broker] of brokers) {
      // Kafka's Node.toString; every broker is asked on its own connection, as Kafka's tool does.
      const node = `${broker.host}:${broker.port} (id: ${id} rack: ${broker.rack ?? null} isFenced: false)`;
      const own = await adminClient([`${broker.host}:${broker.port}`], security);
      try {
        console.log(`${node} -> ${formatApiVersions(await own.listApis())}`);
      } catch (e) {
        console.log(
          `${node} -> ERROR: ${describeFailure('broker-api-versions', [`${broker.host}:${broker.port}`], e)}`,
        );
      } finally {
        await own.close().catch(() => {});
      }
    }
    return 0;
  } catch (e) {
    console.error(describeFailure('broker-api-versions', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
