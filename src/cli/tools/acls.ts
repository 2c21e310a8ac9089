import { createInterface } from 'node:readline/promises';
import type { Admin } from '@platformatic/kafka';
import {
  AclOperation,
  AclPermissionType,
  CLUSTER_RESOURCE_NAME,
  codeOf,
  operationName,
  PatternType,
  patternTypeName,
  permissionTypeName,
  ResourceType,
  resourceTypeName,
  WILDCARD_HOST,
} from '../../security/acl.js';
import { SUPPORTED_OPERATIONS } from '../../security/authorizer.js';
import { bootstrapServers, FAILURE_EXIT_CODE, type ParsedFlags, parseFlags, UsageError, usageExit } from './args.js';
import { adminClient, commandConfigSecurity, describeFailure } from './client.js';

const ACLS_USAGE = `usage: samsa acls --bootstrap-server HOST:PORT (--add | --remove | --list) [options]

Adds, removes and lists ACLs (as Kafka's kafka-acls.sh), through CreateAcls, DeleteAcls and DescribeAcls.

  --bootstrap-server HOST:PORT   the broker to connect to
  --command-config FILE          client security properties (security.protocol, sasl.mechanism,
                                 sasl.jaas.config, ssl.truststore.*)
  --add | --remove | --list      the action
  --topic NAME, --group NAME, --transactional-id NAME, --cluster, --delegation-token NAME,
  --user-principal NAME          the resources (each may be repeated)
  --resource-pattern-type TYPE   LITERAL or PREFIXED (--add; default LITERAL), also ANY or MATCH
                                 (--list and --remove; defaults ANY and LITERAL)
  --allow-principal P, --deny-principal P    principals as Type:name (User:alice, User:*)
  --allow-host H, --deny-host H  client addresses (default * for the principals given)
  --operation OP                 Read, Write, Create, Delete, Alter, Describe, ClusterAction,
                                 DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens,
                                 DescribeTokens, All (default All)
  --producer                     WRITE, DESCRIBE, CREATE on the topics; WRITE, DESCRIBE on the
                                 transactional ids; --idempotent adds IDEMPOTENT_WRITE on the cluster
  --consumer                     READ, DESCRIBE on the topics and READ on the groups (--group needed)
  --principal P                  with --list: only this principal's ACLs
  --force                        --remove without asking`;

const FLAGS = {
  'bootstrap-server': 'value',
  'command-config': 'value',
  add: 'switch',
  remove: 'switch',
  list: 'switch',
  topic: 'repeated',
  group: 'repeated',
  'transactional-id': 'repeated',
  'delegation-token': 'repeated',
  'user-principal': 'repeated',
  cluster: 'switch',
  'resource-pattern-type': 'value',
  'allow-principal': 'repeated',
  'deny-principal': 'repeated',
  'allow-host': 'repeated',
  'deny-host': 'repeated',
  operation: 'repeated',
  producer: 'switch',
  consumer: 'switch',
  idempotent: 'switch',
  principal: 'repeated',
  force: 'switch',
} as const;

interface Pattern {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
}

interface Entry {
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

/** Kafka's ResourcePattern.toString (and ResourcePatternFilter's, `<any>` for no name). */
function patternText(p: Pattern): string {
  return `ResourcePattern(resourceType=${resourceTypeName(p.resourceType)}, name=${p.resourceName ?? '<any>'}, patternType=${patternTypeName(p.patternType)})`;
}

/** Kafka's AccessControlEntry.toString. */
function entryText(e: Entry): string {
  return `(principal=${e.principal}, host=${e.host}, operation=${operationName(e.operation)}, permissionType=${permissionTypeName(e.permissionType)})`;
}

/** Kafka's way of printing a set of entries after a heading: a newline, a space, tab-led lines, a space. */
function entriesText(entries: Entry[]): string {
  return `\n ${entries.map((e) => `\t${entryText(e)}`).join('\n')} \n`;
}

/** `Read`, `DescribeConfigs`, `describe_configs` or `DESCRIBE_CONFIGS`: an operation's code. */
function parseOperation(text: string): number {
  const name = text.includes('_') ? text : text.replace(/([a-z])([A-Z])/g, '$1_$2');
  const code = codeOf(AclOperation, name);
  if (code === AclOperation.UNKNOWN || code === AclOperation.ANY) throw new UsageError(`unknown operation '${text}'`);
  return code;
}

function parsePatternType(text: string | undefined, fallback: number, allowed: readonly number[]): number {
  if (text === undefined) return fallback;
  const code = codeOf(PatternType, text);
  if (!allowed.includes(code))
    throw new UsageError(
      `--resource-pattern-type must be one of ${allowed.map(patternTypeName).join(', ')}, not '${text}'`,
    );
  return code;
}

/** The resources named on the command line, with the pattern type. */
function resourcePatterns(flags: ParsedFlags, patternType: number): Pattern[] {
  const out: Pattern[] = [];
  const add = (resourceType: number, flag: string) => {
    for (const name of flags.repeated.get(flag) ?? []) out.push({ resourceType, resourceName: name, patternType });
  };
  add(ResourceType.TOPIC, 'topic');
  if (flags.switches.has('cluster'))
    out.push({ resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_RESOURCE_NAME, patternType });
  add(ResourceType.GROUP, 'group');
  add(ResourceType.TRANSACTIONAL_ID, 'transactional-id');
  add(ResourceType.DELEGATION_TOKEN, 'delegation-token');
  add(ResourceType.USER, 'user-principal');
  return out;
}

/** The entries of --allow-principal / --deny-principal × hosts × operations, as Kafka's AclCommand builds them. */
function entriesFor(flags: ParsedFlags, operations: number[]): Entry[] {
  const out: Entry[] = [];
  for (const [permissionType, principalFlag, hostFlag] of [
    [AclPermissionType.ALLOW, 'allow-principal', 'allow-host'],
    [AclPermissionType.DENY, 'deny-principal', 'deny-host'],
  ] as const) {
    const principals = flags.repeated.get(principalFlag) ?? [];
    for (const p of principals)
      if (!p.includes(':')) throw new UsageError(`--${principalFlag} needs Type:name (User:alice), not '${p}'`);
    const hosts = flags.repeated.get(hostFlag) ?? (principals.length > 0 ? [WILDCARD_HOST] : []);
    for (const principal of principals)
      for (const host of hosts)
        for (const operation of operations) out.push({ principal, host, operation, permissionType });
  }
  return out;
}

/** What --add creates (and --remove with principals removes), per resource pattern. */
function aclsToChange(flags: ParsedFlags, patternType: number): Array<{ pattern: Pattern; entries: Entry[] }> {
  const patterns = resourcePatterns(flags, patternType);
  const byResource = (type: number) => patterns.filter((p) => p.resourceType === type);
  if (flags.switches.has('producer') || flags.switches.has('consumer')) {
    const out: Array<{ pattern: Pattern; entries: Entry[] }> = [];
    const give = (type: number, operations: number[]) => {
      for (const pattern of byResource(type)) out.push({ pattern, entries: entriesFor(flags, operations) });
    };
    if (flags.switches.has('producer')) {
      if (byResource(ResourceType.TOPIC).length === 0) throw new UsageError('--producer needs --topic');
      give(ResourceType.TOPIC, [AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE]);
      give(ResourceType.TRANSACTIONAL_ID, [AclOperation.WRITE, AclOperation.DESCRIBE]);
      if (flags.switches.has('idempotent'))
        out.push({
          pattern: {
            resourceType: ResourceType.CLUSTER,
            resourceName: CLUSTER_RESOURCE_NAME,
            patternType: PatternType.LITERAL,
          },
          entries: entriesFor(flags, [AclOperation.IDEMPOTENT_WRITE]),
        });
    }
    if (flags.switches.has('consumer')) {
      if (byResource(ResourceType.TOPIC).length === 0 || byResource(ResourceType.GROUP).length === 0)
        throw new UsageError('--consumer needs --topic and --group');
      give(ResourceType.TOPIC, [AclOperation.READ, AclOperation.DESCRIBE]);
      give(ResourceType.GROUP, [AclOperation.READ]);
    }
    return out;
  }
  const operations = (flags.repeated.get('operation') ?? ['All']).map(parseOperation);
  for (const pattern of patterns) {
    const supported = SUPPORTED_OPERATIONS.get(pattern.resourceType as ResourceType) ?? [];
    for (const op of operations)
      if (op !== AclOperation.ALL && !supported.includes(op as AclOperation))
        throw new UsageError(
          `ResourceType ${resourceTypeName(pattern.resourceType)} only supports operations ${['ALL', ...supported.map(operationName)].join(',')}`,
        );
  }
  return patterns.map((pattern) => ({ pattern, entries: entriesFor(flags, operations) }));
}

/** The ACLs of the patterns (all ACLs without any), grouped by pattern in the order the broker gave them. */
async function currentAcls(
  admin: Admin,
  patterns: Pattern[],
): Promise<Map<string, { pattern: Pattern; entries: Entry[] }>> {
  const filters =
    patterns.length > 0
      ? patterns
      : [{ resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY }];
  const out = new Map<string, { pattern: Pattern; entries: Entry[] }>();
  for (const f of filters) {
    const resources = await admin.describeAcls({
      filter: {
        resourceType: f.resourceType,
        resourceName: f.resourceName,
        resourcePatternType: f.patternType,
        principal: null,
        host: null,
        operation: AclOperation.ANY,
        permissionType: AclPermissionType.ANY,
      } as Parameters<Admin['describeAcls']>[0]['filter'],
    });
    for (const r of resources) {
      const pattern = {
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        patternType: r.resourcePatternType,
      };
      const key = patternText(pattern);
      const group: { pattern: Pattern; entries: Entry[] } = out.get(key) ?? { pattern, entries: [] };
      out.set(key, group);
      for (const a of r.acls) if (!group.entries.some((e) => entryText(e) === entryText(a))) group.entries.push(a);
    }
  }
  return out;
}

async function listAcls(admin: Admin, patterns: Pattern[], principals: string[]): Promise<void> {
  const current = await currentAcls(admin, patterns);
  const print = (only?: string) => {
    for (const { pattern, entries } of current.values()) {
      const shown = only === undefined ? entries : entries.filter((e) => e.principal === only);
      if (shown.length > 0) console.log(`Current ACLs for resource \`${patternText(pattern)}\`: ${entriesText(shown)}`);
    }
  };
  if (principals.length === 0) print();
  for (const principal of principals) {
    console.log(`ACLs for principal \`${principal}\``);
    print(principal);
  }
}

/** Kafka's confirmAction: --force, or a line answered y on standard input. */
async function confirm(flags: ParsedFlags, message: string): Promise<boolean> {
  if (flags.switches.has('force')) return true;
  console.log(message);
  const rl = createInterface({ input: process.stdin });
  try {
    const answer = await rl.question('');
    return answer.trim().toLowerCase() === 'y';
  } finally {
    rl.close();
  }
}

/** `samsa acls`: Kafka's kafka-acls.sh. Returns the exit code. */
export async function runAcls(argv: string[]): Promise<number> {
  let flags: ParsedFlags;
  let bootstrap: string[];
  let action: 'add' | 'remove' | 'list';
  let changes: Array<{ pattern: Pattern; entries: Entry[] }> = [];
  let listed: Pattern[] = [];
  try {
    flags = parseFlags(argv, FLAGS);
    bootstrap = bootstrapServers(flags);
    const actions = (['add', 'remove', 'list'] as const).filter((a) => flags.switches.has(a));
    if (actions.length !== 1) throw new UsageError('Command must include exactly one action: --list, --add, --remove.');
    action = actions[0]!;
    const typeText = flags.values.get('resource-pattern-type');
    if (action === 'add') {
      const patternType = parsePatternType(typeText, PatternType.LITERAL, [PatternType.LITERAL, PatternType.PREFIXED]);
      changes = aclsToChange(flags, patternType);
      if (changes.length === 0)
        throw new UsageError(
          'You must specify one of: --topic, --cluster, --group, --transactional-id, --delegation-token, --user-principal',
        );
      if (changes.some((c) => c.entries.length === 0))
        throw new UsageError('You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.');
      listed = changes.map((c) => c.pattern);
    } else if (action === 'remove') {
      const patternType = parsePatternType(typeText, PatternType.LITERAL, [
        PatternType.LITERAL,
        PatternType.PREFIXED,
        PatternType.ANY,
        PatternType.MATCH,
      ]);
      changes = aclsToChange(flags, patternType);
      if (changes.length === 0)
        throw new UsageError(
          'You must specify one of: --topic, --cluster, --group, --transactional-id, --delegation-token, --user-principal',
        );
      listed = changes.map((c) => c.pattern);
    } else {
      const patternType = parsePatternType(typeText, PatternType.ANY, [
        PatternType.LITERAL,
        PatternType.PREFIXED,
        PatternType.ANY,
        PatternType.MATCH,
      ]);
      listed = resourcePatterns(flags, patternType);
    }
  } catch (e) {
    return usageExit('acls', ACLS_USAGE, e);
  }
  let admin: Admin | null = null;
  try {
    admin = await adminClient(bootstrap, await commandConfigSecurity(flags));
    if (action === 'add') {
      for (const { pattern, entries } of changes) {
        console.log(`Adding ACLs for resource \`${patternText(pattern)}\`: ${entriesText(entries)}`);
        await admin.createAcls({
          creations: entries.map((e) => ({
            resourceType: pattern.resourceType,
            resourceName: pattern.resourceName!,
            resourcePatternType: pattern.patternType,
            ...e,
          })) as Parameters<Admin['createAcls']>[0]['creations'],
        });
      }
    } else if (action === 'remove') {
      for (const { pattern, entries } of changes) {
        const message =
          entries.length === 0
            ? `Are you sure you want to delete all ACLs for resource filter \`${patternText(pattern)}\`? (y/n)`
            : `Are you sure you want to remove ACLs: ${entriesText(entries)} from resource filter \`${patternText(pattern)}\`? (y/n)`;
        if (!(await confirm(flags, message))) continue;
        const filter = (e: Partial<Entry>) => ({
          resourceType: pattern.resourceType,
          resourceName: pattern.resourceName,
          resourcePatternType: pattern.patternType,
          principal: e.principal ?? null,
          host: e.host ?? null,
          operation: e.operation ?? AclOperation.ANY,
          permissionType: e.permissionType ?? AclPermissionType.ANY,
        });
        await admin.deleteAcls({
          filters: (entries.length === 0 ? [filter({})] : entries.map(filter)) as Parameters<
            Admin['deleteAcls']
          >[0]['filters'],
        });
      }
    }
    await listAcls(admin, listed, action === 'list' ? (flags.repeated.get('principal') ?? []) : []);
    return 0;
  } catch (e) {
    console.error(describeFailure('acls', bootstrap, e));
    return FAILURE_EXIT_CODE;
  } finally {
    await admin?.close().catch(() => {});
  }
}
