import type { Admin } from '@platformatic/kafka';
import { bootstrapServers, FAILURE_EXIT_CODE, type ParsedFlags, parseFlags, UsageError, usageExit } from './args.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import {
  alterClientQuotas,
  describeClientQuotas,
  parseQuotaValues,
  QUOTA_ENTITY_TYPES,
  type QuotaEntityPart,
  type QuotaEntityTypeName,
} from './client-quotas.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';
import { alterScramCredentials, describeScramCredentials, parseScramChange, type ScramChange } from './scram-users.js';

const CONFIGS_USAGE = `usage: samsa configs --bootstrap-server HOST:PORT --entity-type topics|brokers|users|clients|ips <entity> <action>

entity (as Kafka's kafka-configs.sh):
  --entity-name NAME | --topic T | --broker ID     one topic or broker
  --entity-default | --broker-defaults             the cluster-wide broker defaults
  --entity-name USER | --user USER                 a user: quotas and SCRAM credentials (--entity-type users)
  --entity-name ID | --client ID                   a client id's quotas (--entity-type clients)
  --entity-name ADDRESS | --ip ADDRESS             an address's connection_creation_rate (--entity-type ips)
  --entity-default | --user-defaults | --client-defaults | --ip-defaults
                                                   the default for every user, client id or address
  --entity-type users --entity-name U --entity-type clients --entity-name C
                                                   a client id of one user (each name or --entity-default)
  (none, with --describe)                          every topic, broker, user, client id or address

actions:
  --describe [--all]                  the entity's dynamic configs; with --all every config, defaults included
  --alter [--add-config k=v[,k=v]] [--delete-config k[,k]]
      users: --add-config 'SCRAM-SHA-256=[iterations=8192,password=secret],SCRAM-SHA-512=[password=secret]'
             --delete-config SCRAM-SHA-512
      users, clients: --add-config producer_byte_rate=N,consumer_byte_rate=N,request_percentage=P,
             controller_mutation_rate=R
      ips: --add-config connection_creation_rate=N

${COMMAND_CONFIG_HELP}`;

const FLAGS = {
  'bootstrap-server': 'value',
  'command-config': 'value',
  'entity-type': 'repeated',
  'entity-name': 'repeated',
  'entity-default': 'switch',
  topic: 'value',
  broker: 'value',
  user: 'value',
  client: 'value',
  ip: 'value',
  'broker-defaults': 'switch',
  'user-defaults': 'switch',
  'client-defaults': 'switch',
  'ip-defaults': 'switch',
  describe: 'switch',
  all: 'switch',
  alter: 'switch',
  'add-config': 'repeated',
  'delete-config': 'repeated',
} as const;

type EntityType = 'topics' | 'brokers' | QuotaEntityTypeName;

/** Kafka's ConfigResource type codes (users, clients and ips are quota entities, not config resources). */
const RESOURCE_TYPE: Record<'topics' | 'brokers', number> = { topics: 2, brokers: 4 };

/** Kafka's ConfigSource codes, by the names ConfigCommand prints for synonyms. */
const CONFIG_SOURCE_NAMES = [
  'UNKNOWN',
  'DYNAMIC_TOPIC_CONFIG',
  'DYNAMIC_BROKER_CONFIG',
  'DYNAMIC_DEFAULT_BROKER_CONFIG',
  'STATIC_BROKER_CONFIG',
  'DEFAULT_CONFIG',
  'DYNAMIC_BROKER_LOGGER_CONFIG',
  'CLIENT_METRICS_CONFIG',
  'GROUP_CONFIG',
];
const DYNAMIC_TOPIC_CONFIG = 1;
const DYNAMIC_BROKER_CONFIG = 2;
const DYNAMIC_DEFAULT_BROKER_CONFIG = 3;

/** Kafka's AlterConfigOp.OpType codes. */
const OP_SET = 0;
const OP_DELETE = 1;

/** The broker defaults are the broker resource with the empty name. */
const BROKER_DEFAULT_NAME = '';

interface ConfigsCommand {
  /** The first entity type given (users before clients when both are). */
  entityType: EntityType;
  /** For users, clients and ips: the quota entity, one part per type. */
  quotaEntity: QuotaEntityPart[] | null;
  /** undefined: every entity of the type (--describe only); '' the broker defaults. */
  entityName: string | undefined;
  action: 'describe' | 'alter';
  all: boolean;
  add: Map<string, string>;
  remove: string[];
}

/**
 * Kafka's --add-config value: k=v pairs split on commas, where a value holding commas is written in square
 * brackets (k=[a,b]).
 */
function parseAddConfig(texts: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const text of texts) {
    const pairs = text.match(/[^,=]+=(?:\[[^\]]*\]|[^,]*)/g) ?? [];
    if (pairs.join(',') !== text) throw new UsageError(`--add-config needs k=v[,k=v], not '${text}'`);
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1);
      out.set(pair.slice(0, eq).trim(), value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value);
    }
  }
  return out;
}

/**
 * The --entity-name and --entity-default flags in the order given (null for a default), which pairs each with
 * the --entity-type in the same position, as Kafka's ConfigCommand pairs them.
 */
function orderedEntityNames(argv: readonly string[]): Array<string | null> {
  const names: Array<string | null> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--entity-default') names.push(null);
    else if (arg === '--entity-name') names.push(argv[++i] ?? '');
    else if (arg.startsWith('--entity-name=')) names.push(arg.slice('--entity-name='.length));
    else if (!arg.startsWith('--')) continue;
    else if (FLAGS[arg.slice(2).split('=')[0] as keyof typeof FLAGS] !== 'switch' && !arg.includes('=')) i++;
  }
  return names;
}

const ENTITY_TYPES: readonly EntityType[] = ['topics', 'brokers', 'users', 'clients', 'ips'];

function parseCommand(flags: ParsedFlags, argv: readonly string[]): ConfigsCommand {
  const describe = flags.switches.has('describe');
  const alter = flags.switches.has('alter');
  if (describe === alter) throw new UsageError('give exactly one of --describe, --alter');
  const types = flags.repeated.get('entity-type') ?? [];
  const names = orderedEntityNames(argv);
  if (names.length > types.length)
    throw new UsageError('--entity-name and --entity-default each need an --entity-type');
  const pairs: Array<{ type: string; name: string | null | undefined }> = types.map((type, i) => ({
    type,
    name: i < names.length ? names[i] : undefined,
  }));
  // Kafka's shorthands: --topic T is --entity-type topics --entity-name T, and so on.
  const shorthand = (type: EntityType, name: string | null) => {
    const open = pairs.find((p) => p.type === type && p.name === undefined);
    if (open) open.name = name;
    else pairs.push({ type, name });
  };
  for (const [flag, type] of [
    ['topic', 'topics'],
    ['broker', 'brokers'],
    ['user', 'users'],
    ['client', 'clients'],
    ['ip', 'ips'],
  ] as const)
    if (flags.values.has(flag)) shorthand(type, flags.values.get(flag)!);
  for (const [flag, type] of [
    ['broker-defaults', 'brokers'],
    ['user-defaults', 'users'],
    ['client-defaults', 'clients'],
    ['ip-defaults', 'ips'],
  ] as const)
    if (flags.switches.has(flag)) shorthand(type, null);
  if (pairs.length === 0 || pairs.some((p) => !(ENTITY_TYPES as readonly string[]).includes(p.type))) {
    const bad = pairs.find((p) => !(ENTITY_TYPES as readonly string[]).includes(p.type));
    throw new UsageError(
      `--entity-type must be topics, brokers, users, clients or ips${bad ? `, not '${bad.type}'` : ''}`,
    );
  }
  if (new Set(pairs.map((p) => p.type)).size !== pairs.length) throw new UsageError('name one entity of each type');
  const quota = pairs.every((p) => p.type in QUOTA_ENTITY_TYPES);
  if (!quota && pairs.length > 1) throw new UsageError('name one entity only');
  if (
    quota &&
    pairs.length > 1 &&
    !(pairs.length === 2 && pairs.every((p) => p.type === 'users' || p.type === 'clients'))
  )
    throw new UsageError('only users and clients may be combined');
  // users before clients, as Kafka names the entity.
  pairs.sort((a, b) => ENTITY_TYPES.indexOf(a.type as EntityType) - ENTITY_TYPES.indexOf(b.type as EntityType));
  const head = pairs[0]!;
  const entityType = head.type as EntityType;
  if (entityType === 'topics' && head.name === null) throw new UsageError('--entity-default is not for topics');
  const entityName = head.name === null ? BROKER_DEFAULT_NAME : head.name;
  if (entityType === 'brokers' && entityName && !/^\d+$/.test(entityName)) {
    throw new UsageError(`a broker is named by its id, not '${entityName}'`);
  }
  const quotaEntity = quota ? pairs.map((p) => ({ type: p.type as QuotaEntityTypeName, name: p.name })) : null;
  const add = parseAddConfig(flags.repeated.get('add-config') ?? []);
  const remove = (flags.repeated.get('delete-config') ?? []).flatMap((t) => t.split(',')).map((k) => k.trim());
  if (describe && (add.size > 0 || remove.length > 0)) {
    throw new UsageError('--add-config and --delete-config are for --alter');
  }
  if (alter) {
    if (pairs.some((p) => p.name === undefined))
      throw new UsageError('--alter needs an entity name or --entity-default');
    if (add.size === 0 && remove.length === 0) throw new UsageError('--alter needs --add-config or --delete-config');
    if (flags.switches.has('all')) throw new UsageError('--all is for --describe');
    const both = remove.find((k) => add.has(k));
    if (both) throw new UsageError(`config '${both}' is both added and deleted`);
  }
  if (quota && flags.switches.has('all')) throw new UsageError('--all is for topics and brokers');
  return {
    entityType,
    quotaEntity,
    entityName,
    action: describe ? 'describe' : 'alter',
    all: flags.switches.has('all'),
    add,
    remove,
  };
}

/** The dynamic source of one entity: what --describe without --all prints. */
function dynamicSource(c: ConfigsCommand, name: string): number {
  if (c.entityType === 'topics') return DYNAMIC_TOPIC_CONFIG;
  return name === BROKER_DEFAULT_NAME ? DYNAMIC_DEFAULT_BROKER_CONFIG : DYNAMIC_BROKER_CONFIG;
}

function header(c: ConfigsCommand, name: string): string {
  if (name === BROKER_DEFAULT_NAME) return `Default configs for ${c.entityType} in the cluster are:`;
  return `${c.all ? 'All' : 'Dynamic'} configs for ${c.entityType.slice(0, -1)} ${name} are:`;
}

/** The entities --describe covers: the one named, or every topic, or every broker and then the defaults. */
async function entityNames(admin: Admin, c: ConfigsCommand): Promise<string[]> {
  if (c.entityName !== undefined) {
    if (c.entityType === 'topics' && !(await admin.listTopics({ includeInternals: true })).includes(c.entityName)) {
      throw new ToolError(`The topic '${c.entityName}' doesn't exist and doesn't have dynamic config.`);
    }
    return [c.entityName];
  }
  if (c.entityType === 'topics') return (await admin.listTopics({ includeInternals: true })).sort();
  const metadata = await admin.metadata({ topics: [] });
  return [...[...metadata.brokers.keys()].sort((a, b) => a - b).map(String), BROKER_DEFAULT_NAME];
}

async function describe(admin: Admin, c: ConfigsCommand): Promise<string> {
  const names = await entityNames(admin, c);
  const lines: string[] = [];
  for (const name of names) {
    // One request per entity, as Kafka's tool sends them: a broker resource goes to that broker.
    const [result] = await admin.describeConfigs({
      resources: [{ resourceType: RESOURCE_TYPE[c.entityType as 'topics' | 'brokers'] as 2, resourceName: name }],
      includeSynonyms: true,
    });
    const source = dynamicSource(c, name);
    const entries = (result?.configs ?? [])
      .filter((e) => c.all || e.configSource === source)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    lines.push(header(c, name));
    for (const e of entries) {
      const synonyms = e.synonyms
        .map((s) => `${CONFIG_SOURCE_NAMES[s.source] ?? 'UNKNOWN'}:${s.name}=${s.value}`)
        .join(', ');
      const value = e.isSensitive ? null : e.value;
      lines.push(`  ${e.name}=${value} sensitive=${e.isSensitive} synonyms={${synonyms}}`);
    }
  }
  return lines.join('\n');
}

/**
 * Sets and deletes configs of a topic or a broker (the empty name: the broker defaults) with
 * IncrementalAlterConfigs, as kafka-configs --alter does.
 */
export async function incrementalAlterConfigs(
  admin: Admin,
  entityType: 'topics' | 'brokers',
  name: string,
  set: Iterable<readonly [string, string]>,
  remove: Iterable<string> = [],
): Promise<void> {
  await admin.incrementalAlterConfigs({
    resources: [
      {
        resourceType: RESOURCE_TYPE[entityType] as 2,
        resourceName: name,
        configs: [
          ...[...set].map(([key, value]) => ({ name: key, configOperation: OP_SET as 0, value })),
          ...[...remove].map((key) => ({ name: key, configOperation: OP_DELETE as 1 })),
        ],
      },
    ],
  });
}

async function alter(admin: Admin, c: ConfigsCommand): Promise<string> {
  const name = c.entityName!;
  await incrementalAlterConfigs(admin, c.entityType as 'topics' | 'brokers', name, c.add, c.remove);
  if (name === BROKER_DEFAULT_NAME) return `Completed updating default config for ${c.entityType} in the cluster.`;
  return `Completed updating config for ${c.entityType.slice(0, -1)} ${name}.`;
}

/** SCRAM credentials in --add-config and --delete-config are the mechanisms' names; the rest are quotas. */
const isScramKey = (key: string) => key.startsWith('SCRAM-');

/** What --alter asks of a quota entity: SCRAM credentials (users only) and quota values. */
interface QuotaAlter {
  scram: ScramChange | null;
  set: Map<string, number>;
  remove: string[];
}

function parseQuotaAlter(c: ConfigsCommand): QuotaAlter {
  const scramAdd = new Map([...c.add].filter(([k]) => isScramKey(k)));
  const scramRemove = c.remove.filter(isScramKey);
  const scram = scramAdd.size > 0 || scramRemove.length > 0 ? parseScramChange(scramAdd, scramRemove) : null;
  if (scram && (c.quotaEntity!.length > 1 || c.entityType !== 'users' || c.quotaEntity![0]!.name === null))
    throw new UsageError('SCRAM credentials are set on one named user only');
  return {
    scram,
    set: parseQuotaValues(new Map([...c.add].filter(([k]) => !isScramKey(k)))),
    remove: c.remove.filter((k) => !isScramKey(k)),
  };
}

/** --alter and --describe on users, clients and ips: Kafka's quota and SCRAM lines. */
async function runQuotaEntity(
  admin: Admin,
  bootstrap: string[],
  security: ClientSecurity,
  c: ConfigsCommand,
  change: QuotaAlter | null,
): Promise<string> {
  const entity = c.quotaEntity!;
  const head = entity[0]!;
  if (change) {
    if (change.scram) await alterScramCredentials(admin, bootstrap, security, head.name!, change.scram);
    if (change.set.size > 0 || change.remove.length > 0)
      await alterClientQuotas(admin, bootstrap, security, entity, change.set, change.remove);
    if (head.name === null) return `Completed updating default config for ${c.entityType} in the cluster.`;
    return `Completed updating config for ${c.entityType.slice(0, -1)} ${head.name}.`;
  }
  const lines = await describeClientQuotas(admin, bootstrap, security, entity);
  // As Kafka's tool: SCRAM credentials are described for users alone, and not for the defaults.
  if (entity.length === 1 && head.type === 'users' && head.name !== null) {
    const scram = await describeScramCredentials(admin, bootstrap, security, head.name);
    if (scram) lines.push(scram);
  }
  return lines.join('\n');
}

/** `samsa configs`: Kafka's kafka-configs.sh for topics, brokers, users, clients and ips. Returns the exit code. */
export async function runConfigs(argv: string[]): Promise<number> {
  let bootstrap: string[];
  let command: ConfigsCommand;
  let security: ClientSecurity;
  let change: QuotaAlter | null = null;
  try {
    const flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    command = parseCommand(flags, argv);
    security = await commandConfigSecurity(flags);
    if (command.quotaEntity && command.action === 'alter') change = parseQuotaAlter(command);
  } catch (e) {
    return usageExit('configs', CONFIGS_USAGE, e);
  }
  const admin = await adminClient(bootstrap, security);
  try {
    if (command.quotaEntity) {
      const out = await runQuotaEntity(admin, bootstrap, security, command, change);
      if (out) console.log(out);
      return 0;
    }
    console.log(command.action === 'describe' ? await describe(admin, command) : await alter(admin, command));
    return 0;
  } catch (e) {
    console.error(describeFailure('configs', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin.close().catch(() => {});
  }
}
