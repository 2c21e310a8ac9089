import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AclBinding,
  type AclBindingFilter,
  AclOperation,
  AclPermissionType,
  filterMatches,
  invalidBindingReason,
  PatternType,
  ResourceType,
} from '../../src/security/acl.js';
import { Authorizer, parseSuperUsers } from '../../src/security/authorizer.js';

// The cases follow Kafka's AuthorizerTest / StandardAuthorizerTest: the same ACLs give the same answers.

const alice = { principal: 'User:alice', host: '192.168.0.1' };
const bob = { principal: 'User:bob', host: '192.168.0.2' };

function acl(
  resourceType: ResourceType,
  resourceName: string,
  operation: AclOperation,
  permissionType: AclPermissionType = AclPermissionType.ALLOW,
  more: Partial<AclBinding> = {},
): AclBinding {
  return {
    resourceType,
    resourceName,
    patternType: PatternType.LITERAL,
    principal: 'User:alice',
    host: '*',
    operation,
    permissionType,
    ...more,
  };
}

function authorizer(acls: AclBinding[], options: { superUsers?: string; allowEveryone?: boolean } = {}): Authorizer {
  const a = new Authorizer(parseSuperUsers(options.superUsers ?? ''), options.allowEveryone ?? false);
  for (const b of acls) a.add(b);
  return a;
}

const { TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID } = ResourceType;
const { READ, WRITE, DESCRIBE, ALTER, DELETE, ALL, DESCRIBE_CONFIGS, ALTER_CONFIGS, CREATE, IDEMPOTENT_WRITE } =
  AclOperation;
const { ALLOW, DENY } = AclPermissionType;

describe('authorizer', () => {
  test('no ACLs: denied, unless allow.everyone.if.no.acl.found', () => {
    assert.equal(authorizer([]).authorize(alice, READ, TOPIC, 'orders'), false);
    assert.equal(authorizer([], { allowEveryone: true }).authorize(alice, READ, TOPIC, 'orders'), true);
  });

  test('an ACL of another principal on the resource denies even with allow.everyone.if.no.acl.found', () => {
    const a = authorizer([acl(TOPIC, 'orders', READ, ALLOW, { principal: 'User:bob' })], { allowEveryone: true });
    assert.equal(a.authorize(alice, READ, TOPIC, 'orders'), false);
    assert.equal(a.authorize(bob, READ, TOPIC, 'orders'), true);
    // Another topic has no ACL at all.
    assert.equal(a.authorize(alice, READ, TOPIC, 'payments'), true);
  });

  test('super users may do anything, DENY ACLs included', () => {
    const a = authorizer([acl(TOPIC, 'orders', ALL, DENY, { principal: 'User:admin' })], {
      superUsers: 'User:admin; User:ops',
    });
    assert.equal(a.authorize({ principal: 'User:admin', host: '10.0.0.1' }, DELETE, TOPIC, 'orders'), true);
    assert.equal(a.authorize({ principal: 'User:ops', host: '10.0.0.1' }, ALTER, CLUSTER, 'kafka-cluster'), true);
    assert.equal(a.authorize(alice, READ, TOPIC, 'orders'), false);
  });

  test('literal, wildcard and prefixed patterns', () => {
    const a = authorizer([
      acl(TOPIC, 'orders', READ),
      acl(TOPIC, '*', DESCRIBE),
      acl(TOPIC, 'pay', WRITE, ALLOW, { patternType: PatternType.PREFIXED }),
    ]);
    assert.equal(a.authorize(alice, READ, TOPIC, 'orders'), true);
    assert.equal(a.authorize(alice, READ, TOPIC, 'orders2'), false);
    assert.equal(a.authorize(alice, DESCRIBE, TOPIC, 'anything'), true);
    assert.equal(a.authorize(alice, WRITE, TOPIC, 'payments'), true);
    assert.equal(a.authorize(alice, WRITE, TOPIC, 'pay'), true);
    assert.equal(a.authorize(alice, WRITE, TOPIC, 'pa'), false);
    // A prefixed '*' is a prefix of names starting with '*' only, not a wildcard.
    const p = authorizer([acl(TOPIC, '*', READ, ALLOW, { patternType: PatternType.PREFIXED })]);
    assert.equal(p.authorize(alice, READ, TOPIC, 'orders'), false);
    // The resource type must match.
    assert.equal(a.authorize(alice, READ, GROUP, 'orders'), false);
  });

  test('DENY wins over ALLOW, from any matching pattern', () => {
    const a = authorizer([
      acl(TOPIC, '*', ALL),
      acl(TOPIC, 'secret', READ, DENY, { patternType: PatternType.PREFIXED }),
    ]);
    assert.equal(a.authorize(alice, READ, TOPIC, 'secrets'), false);
    assert.equal(a.authorize(alice, WRITE, TOPIC, 'secrets'), true);
    assert.equal(a.authorize(alice, READ, TOPIC, 'public'), true);
    const denyAll = authorizer([acl(TOPIC, 'orders', WRITE), acl(TOPIC, 'orders', ALL, DENY)]);
    assert.equal(denyAll.authorize(alice, WRITE, TOPIC, 'orders'), false);
    // A deny for User:* covers everyone.
    const denyEveryone = authorizer([
      acl(TOPIC, 'orders', READ),
      acl(TOPIC, 'orders', READ, DENY, { principal: 'User:*' }),
    ]);
    assert.equal(denyEveryone.authorize(alice, READ, TOPIC, 'orders'), false);
  });

  test('implied operations: DESCRIBE from READ, WRITE, DELETE, ALTER; DESCRIBE_CONFIGS from ALTER_CONFIGS', () => {
    for (const op of [READ, WRITE, DELETE, ALTER]) {
      const a = authorizer([acl(TOPIC, 'orders', op)]);
      assert.equal(a.authorize(alice, DESCRIBE, TOPIC, 'orders'), true, `DESCRIBE from ${op}`);
    }
    assert.equal(authorizer([acl(TOPIC, 'orders', CREATE)]).authorize(alice, DESCRIBE, TOPIC, 'orders'), false);
    assert.equal(authorizer([acl(TOPIC, 'orders', DESCRIBE)]).authorize(alice, READ, TOPIC, 'orders'), false);
    assert.equal(
      authorizer([acl(TOPIC, 'orders', ALTER_CONFIGS)]).authorize(alice, DESCRIBE_CONFIGS, TOPIC, 'orders'),
      true,
    );
    assert.equal(authorizer([acl(TOPIC, 'orders', ALTER)]).authorize(alice, DESCRIBE_CONFIGS, TOPIC, 'orders'), false);
    assert.equal(authorizer([acl(GROUP, 'g', ALL)]).authorize(alice, DELETE, GROUP, 'g'), true);
    // A DENY implies nothing: denying READ leaves DESCRIBE to the ALLOWs.
    const a = authorizer([acl(TOPIC, 'orders', WRITE), acl(TOPIC, 'orders', READ, DENY)]);
    assert.equal(a.authorize(alice, DESCRIBE, TOPIC, 'orders'), true);
    assert.equal(a.authorize(alice, READ, TOPIC, 'orders'), false);
  });

  test('host: an exact address or *', () => {
    const a = authorizer([acl(TOPIC, 'orders', READ, ALLOW, { host: '192.168.0.1' })]);
    assert.equal(a.authorize(alice, READ, TOPIC, 'orders'), true);
    assert.equal(a.authorize({ ...alice, host: '192.168.0.9' }, READ, TOPIC, 'orders'), false);
    const deny = authorizer([acl(TOPIC, 'orders', READ), acl(TOPIC, 'orders', READ, DENY, { host: '10.0.0.1' })]);
    assert.equal(deny.authorize(alice, READ, TOPIC, 'orders'), true);
    assert.equal(deny.authorize({ ...alice, host: '10.0.0.1' }, READ, TOPIC, 'orders'), false);
  });

  test('removing an ACL takes its effect away', () => {
    const prefixed = acl(TOPIC, 'pay', WRITE, ALLOW, { patternType: PatternType.PREFIXED });
    const a = authorizer([prefixed, acl(TOPIC, 'pay', WRITE, ALLOW, { patternType: PatternType.PREFIXED })]);
    assert.equal(a.size, 1, 'the same ACL twice is kept once');
    assert.equal(a.authorize(alice, WRITE, TOPIC, 'payments'), true);
    a.remove(prefixed);
    assert.equal(a.size, 0);
    assert.equal(a.authorize(alice, WRITE, TOPIC, 'payments'), false);
    assert.deepEqual([...a.bindings()], []);
  });

  test('authorizeByResourceType: some topic writable and not covered by a DENY (KIP-679)', () => {
    assert.equal(authorizer([acl(TOPIC, 'orders', WRITE)]).authorizeByResourceType(alice, WRITE, TOPIC), true);
    assert.equal(authorizer([acl(TOPIC, 'orders', READ)]).authorizeByResourceType(alice, WRITE, TOPIC), false);
    assert.equal(
      authorizer([acl(TOPIC, 'orders', WRITE), acl(TOPIC, 'orders', WRITE, DENY)]).authorizeByResourceType(
        alice,
        WRITE,
        TOPIC,
      ),
      false,
    );
    assert.equal(
      authorizer([
        acl(TOPIC, 'orders', WRITE),
        acl(TOPIC, 'ord', WRITE, DENY, { patternType: PatternType.PREFIXED }),
      ]).authorizeByResourceType(alice, WRITE, TOPIC),
      false,
    );
    assert.equal(
      authorizer([acl(TOPIC, 'orders', WRITE), acl(TOPIC, '*', WRITE, DENY)]).authorizeByResourceType(
        alice,
        WRITE,
        TOPIC,
      ),
      false,
    );
    assert.equal(authorizer([acl(TOPIC, '*', ALL)]).authorizeByResourceType(alice, WRITE, TOPIC), true);
    assert.equal(authorizer([acl(TOPIC, 'orders', WRITE)]).authorizeByResourceType(bob, WRITE, TOPIC), false);
    assert.equal(authorizer([], { superUsers: 'User:bob' }).authorizeByResourceType(bob, WRITE, TOPIC), true);
  });

  test('authorizedOperations: one bit per supported operation allowed', () => {
    const a = authorizer([acl(TOPIC, 'orders', READ), acl(TRANSACTIONAL_ID, 'tx', WRITE)]);
    assert.equal(a.authorizedOperations(alice, TOPIC, 'orders'), (1 << READ) | (1 << DESCRIBE));
    assert.equal(a.authorizedOperations(alice, TRANSACTIONAL_ID, 'tx'), (1 << WRITE) | (1 << DESCRIBE));
    const admin = authorizer([], { superUsers: 'User:alice' });
    assert.equal(
      admin.authorizedOperations(alice, CLUSTER, 'kafka-cluster'),
      [CREATE, 9, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, ALTER, DESCRIBE].reduce(
        (b, op) => b | (1 << op),
        0,
      ),
    );
  });
});

describe('ACL filters and validation', () => {
  const filter = (f: Partial<AclBindingFilter>): AclBindingFilter => ({
    resourceType: ResourceType.ANY,
    resourceName: null,
    patternType: PatternType.ANY,
    principal: null,
    host: null,
    operation: AclOperation.ANY,
    permissionType: AclPermissionType.ANY,
    ...f,
  });
  const literal = acl(TOPIC, 'orders', READ);
  const wildcard = acl(TOPIC, '*', READ);
  const prefixed = acl(TOPIC, 'ord', READ, ALLOW, { patternType: PatternType.PREFIXED });

  test('ANY matches by exact name, MATCH by what would apply, a pattern type by itself', () => {
    const matching = (f: Partial<AclBindingFilter>) =>
      [literal, wildcard, prefixed].filter((b) => filterMatches(filter(f), b)).map((b) => b.resourceName);
    assert.deepEqual(matching({}), ['orders', '*', 'ord']);
    assert.deepEqual(matching({ resourceName: 'orders' }), ['orders']);
    assert.deepEqual(matching({ resourceName: 'orders', patternType: PatternType.MATCH }), ['orders', '*', 'ord']);
    assert.deepEqual(matching({ resourceName: 'ord', patternType: PatternType.PREFIXED }), ['ord']);
    assert.deepEqual(matching({ patternType: PatternType.LITERAL }), ['orders', '*']);
    assert.deepEqual(matching({ principal: 'User:bob' }), []);
    assert.deepEqual(matching({ operation: WRITE }), []);
    assert.deepEqual(matching({ resourceType: GROUP }), []);
  });

  test('creations Kafka refuses', () => {
    assert.equal(invalidBindingReason(literal), null);
    assert.match(invalidBindingReason({ ...literal, resourceType: ResourceType.ANY }) ?? '', /Invalid resourceType/);
    assert.match(invalidBindingReason({ ...literal, patternType: PatternType.MATCH }) ?? '', /Invalid patternType/);
    assert.match(invalidBindingReason({ ...literal, operation: AclOperation.ANY }) ?? '', /Invalid operation/);
    assert.match(invalidBindingReason({ ...literal, permissionType: AclPermissionType.ANY }) ?? '', /permissionType/);
    assert.match(invalidBindingReason({ ...literal, resourceName: '' }) ?? '', /empty/);
    assert.match(invalidBindingReason(acl(CLUSTER, 'other', ALTER)) ?? '', /kafka-cluster/);
    assert.match(invalidBindingReason({ ...literal, principal: 'alice' }) ?? '', /no colon/);
    assert.throws(() => parseSuperUsers('admin'), /super.users/);
  });
});
