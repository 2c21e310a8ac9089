import type { Admin } from '@platformatic/kafka';
import { bootstrapServers, FAILURE_EXIT_CODE, type ParsedFlags, parseFlags, UsageError, usageExit } from './args.js';
import { adminClient, commandConfigSecurity, describeFailure, ToolError } from './client.js';
import { type ClientSecurity, COMMAND_CONFIG_HELP } from './client-security.js';
import { alterScramCredentials, describeScramCredentials, parseScramChange, type ScramChange } from './scram-users.js';

const CONFIGS_USAGE = `usage: samsa configs --bootstrap-server HOST:PORT --entity-type topics|brokers|users <entity> <action>

entity (as Kafka's kafka-configs.sh):
  --entity-name NAME | --topic T | --broker ID     one topic or broker
  --entity-default | --broker-defaults             the cluster-wide broker defaults
  --entity-name USER | --user USER                 a user's SCRAM credentials (--entity-type users)
  (none, with --describe)                          every topic, or every broker and the defaults

actions:
  --describe [--all]                  the entity's dynamic configs; with --all every config, defaults included
  --alter [--add-config k=v[,k=v]] [--delete-config k[,k]]
      users: --add-config 'SCRAM-SHA-256=[iterations=8192,password=secret],SCRAM-SHA-512=[password=secret]'
             --delete-config SCRAM-SHA-512

${COMMAND_CONFIG_HELP}`;

const FLAGS = {
  'bootstrap-server': 'value',
  'command-config': 'value',
  'entity-type': 'value',
  'entity-name': 'value',
  'entity-default': 'switch',
  topic: 'value',
  broker: 'value',
  user: 'value',
  'broker-defaults': 'switch',
  describe: 'switch',
  all: 'switch',
  alter: 'switch',
  'add-config': 'repeated',
  'delete-config': 'repeated',
} as const;

type EntityType = 'topics' | 'brokers' | 'users';

/** Kafka's ConfigResource type codes (users are SCRAM credentials, not a config resource). */
const RESOURCE_TYPE: Record<Exclude<EntityType, 'users'>, number> = { topics: 2, brokers: 4 };

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
  entityType: EntityType;
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

function parseCommand(flags: ParsedFlags): ConfigsCommand {
  const describe = flags.switches.has('describe');
  const alter = flags.switches.has('alter');
  if (describe === alter) throw new UsageError('give exactly one of --describe, --alter');
  let entityType = flags.values.get('entity-type');
  const names: Array<string | undefined> = [];
  if (flags.values.has('topic')) {
    entityType ??= 'topics';
    names.push(flags.values.get('topic'));
  }
  if (flags.values.has('broker')) {
    entityType ??= 'brokers';
    names.push(flags.values.get('broker'));
  }
  if (flags.switches.has('broker-defaults')) {
    entityType ??= 'brokers';
    names.push(BROKER_DEFAULT_NAME);
  }
  if (flags.values.has('user')) {
    entityType ??= 'users';
    names.push(flags.values.get('user'));
  }
  if (flags.values.has('entity-name')) names.push(flags.values.get('entity-name'));
  if (flags.switches.has('entity-default')) names.push(BROKER_DEFAULT_NAME);
  if (entityType !== 'topics' && entityType !== 'brokers' && entityType !== 'users') {
    throw new UsageError(`--entity-type must be topics, brokers or users${entityType ? `, not '${entityType}'` : ''}`);
  }
  if (names.length > 1) throw new UsageError('name one entity only');
  const entityName = names[0];
  if (entityType !== 'brokers' && entityName === BROKER_DEFAULT_NAME) {
    // Kafka's user defaults are quota defaults, which Samsa does not have yet.
    throw new UsageError('--entity-default is for brokers only');
  }
  if (entityType === 'brokers' && entityName && !/^\d+$/.test(entityName)) {
    throw new UsageError(`a broker is named by its id, not '${entityName}'`);
  }
  const add = parseAddConfig(flags.repeated.get('add-config') ?? []);
  const remove = (flags.repeated.get('delete-config') ?? []).flatMap((t) => t.split(',')).map((k) => k.trim());
  if (describe && (add.size > 0 || remove.length > 0)) {
    throw new UsageError('--add-config and --delete-config are for --alter');
  }
  if (alter) {
    if (entityName === undefined) throw new UsageError('--alter needs an entity name or --entity-default');
    if (add.size === 0 && remove.length === 0) throw new UsageError('--alter needs --add-config or --delete-config');
    if (flags.switches.has('all')) throw new UsageError('--all is for --describe');
    const both = remove.find((k) => add.has(k));
    if (both) throw new UsageError(`config '${both}' is both added and deleted`);
  }
  if (entityType === 'users' && flags.switches.has('all')) throw new UsageError('--all is for topics and brokers');
  return {
    entityType,
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
      resources: [
        { resourceType: RESOURCE_TYPE[c.entityType as Exclude<EntityType, 'users'>] as 2, resourceName: name },
      ],
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

async function alter(admin: Admin, c: ConfigsCommand): Promise<string> {
  const name = c.entityName!;
  await admin.incrementalAlterConfigs({
    resources: [
      {
        resourceType: RESOURCE_TYPE[c.entityType as Exclude<EntityType, 'users'>] as 2,
        resourceName: name,
        configs: [
          ...[...c.add].map(([key, value]) => ({ name: key, configOperation: OP_SET as 0, value })),
          ...c.remove.map((key) => ({ name: key, configOperation: OP_DELETE as 1 })),
        ],
      },
    ],
  });
  if (name === BROKER_DEFAULT_NAME) return `Completed updating default config for ${c.entityType} in the cluster.`;
  return `Completed updating config for ${c.entityType.slice(0, -1)} ${name}.`;
}

/** `samsa configs`: Kafka's kafka-configs.sh for topics and brokers. Returns the exit code. */
export async function runConfigs(argv: string[]): Promise<number> {
  let bootstrap: string[];
  let command: ConfigsCommand;
  let security: ClientSecurity;
  try {
    const flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    command = parseCommand(flags);
    security = await commandConfigSecurity(flags);
  } catch (e) {
    return usageExit('configs', CONFIGS_USAGE, e);
  }
  let scram: ScramChange | null = null;
  try {
    if (command.entityType === 'users' && command.action === 'alter')
      scram = parseScramChange(command.add, command.remove);
  } catch (e) {
    return usageExit('configs', CONFIGS_USAGE, e);
  }
  const admin = await adminClient(bootstrap, security);
  try {
    if (command.entityType === 'users') {
      if (scram) {
        await alterScramCredentials(admin, bootstrap, security, command.entityName!, scram);
        console.log(`Completed updating config for user ${command.entityName}.`);
      } else {
        const out = await describeScramCredentials(admin, bootstrap, security, command.entityName);
        if (out) console.log(out);
      }
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
