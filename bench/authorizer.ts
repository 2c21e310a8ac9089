/**
 * The authorizer's cost per check, with 10 and 10,000 ACLs: what each request pays per resource it names
 * (a Produce to one topic makes one check; a broker without authorizer.class.name makes none). Run alone with
 * `npx tsx bench/authorizer.ts`; `npm run bench` includes it.
 */
import { AclOperation, AclPermissionType, PatternType, ResourceType } from '../src/security/acl.js';
import { Authorizer } from '../src/security/authorizer.js';
import { type BenchRow, formatTable, rate } from './lib.js';

/**
 * `count` ACLs as a large deployment has them: per user a literal topic WRITE, a prefixed topic READ and a group
 * READ, plus a few DENYs; the principal checked has its own among them.
 */
function authorizerWith(count: number): Authorizer {
  const a = new Authorizer(new Set(['User:admin']), false);
  for (let i = 0; a.size < count; i++) {
    const principal = `User:user-${i}`;
    const base = { principal, host: '*', permissionType: AclPermissionType.ALLOW } as const;
    a.add({
      ...base,
      resourceType: ResourceType.TOPIC,
      resourceName: `orders-${i}`,
      patternType: PatternType.LITERAL,
      operation: AclOperation.WRITE,
    });
    a.add({
      ...base,
      resourceType: ResourceType.TOPIC,
      resourceName: `team-${i}-`,
      patternType: PatternType.PREFIXED,
      operation: AclOperation.READ,
    });
    a.add({
      ...base,
      resourceType: ResourceType.GROUP,
      resourceName: `group-${i}`,
      patternType: PatternType.LITERAL,
      operation: AclOperation.READ,
    });
    if (i % 10 === 0)
      a.add({
        ...base,
        permissionType: AclPermissionType.DENY,
        resourceType: ResourceType.TOPIC,
        resourceName: `orders-${i}`,
        patternType: PatternType.LITERAL,
        operation: AclOperation.DELETE,
      });
  }
  return a;
}

export function authorizerSuite({ minMs }: { minMs: number }): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const count of [10, 10_000]) {
    const a = authorizerWith(count);
    const who = { principal: 'User:user-1', host: '10.0.0.1' };
    const literal = rate(() => a.authorize(who, AclOperation.WRITE, ResourceType.TOPIC, 'orders-1'), minMs);
    const prefixed = rate(() => a.authorize(who, AclOperation.READ, ResourceType.TOPIC, 'team-1-events'), minMs);
    const denied = rate(() => a.authorize(who, AclOperation.WRITE, ResourceType.TOPIC, 'unlisted-topic-name'), minMs);
    rows.push(
      {
        workload: `authorizer: ${count} ACLs, literal ALLOW (Produce's topic check)`,
        figure: 1e9 / literal,
        unit: 'ns/check',
      },
      { workload: `authorizer: ${count} ACLs, prefixed ALLOW`, figure: 1e9 / prefixed, unit: 'ns/check' },
      { workload: `authorizer: ${count} ACLs, no ACL matches (denied)`, figure: 1e9 / denied, unit: 'ns/check' },
    );
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(formatTable(authorizerSuite({ minMs: 1000 })));
