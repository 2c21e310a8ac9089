import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ACLS_PREFIX, AclMetadata } from '../../src/cluster/acl-metadata.js';
import { type AclBinding, AclOperation, AclPermissionType, PatternType, ResourceType } from '../../src/security/acl.js';
import { Authorizer } from '../../src/security/authorizer.js';
import { storePairs, until } from './store-pairs.js';

const implementations = storePairs('/samsa/acls');

const bob = { principal: 'User:bob', host: '10.0.0.7' };
const acl: AclBinding = {
  resourceType: ResourceType.TOPIC,
  resourceName: 'orders/eu',
  patternType: PatternType.PREFIXED,
  principal: 'User:bob',
  host: '*',
  operation: AclOperation.WRITE,
  permissionType: AclPermissionType.ALLOW,
};

for (const impl of implementations) {
  describe(`ACLs on the ${impl.name} store`, { skip: impl.skip }, () => {
    test('an ACL created through one broker is enforced by another, deleted likewise, and loaded at start', () =>
      impl.with(async (storeA, storeB) => {
        const authorizerA = new Authorizer(new Set(), false);
        const authorizerB = new Authorizer(new Set(), false);
        const a = await AclMetadata.load(storeA, authorizerA);
        const b = await AclMetadata.load(storeB, authorizerB);
        try {
          await a.create([acl, acl]);
          assert.equal(authorizerA.authorize(bob, AclOperation.WRITE, ResourceType.TOPIC, 'orders/eu-1'), true);
          await until(() => authorizerB.size === 1, 'the other broker to see the ACL');
          assert.equal(authorizerB.authorize(bob, AclOperation.WRITE, ResourceType.TOPIC, 'orders/eu-1'), true);
          assert.equal((await storeA.list(ACLS_PREFIX)).length, 1, 'one key per ACL, however often created');
          // A broker starting now loads it from the store.
          const fresh = new Authorizer(new Set(), false);
          const c = await AclMetadata.load(storeB, fresh);
          assert.deepEqual([...fresh.bindings()], [acl]);
          c.close();
          await b.delete([acl]);
          assert.equal(authorizerB.size, 0);
          await until(() => authorizerA.size === 0, 'the deletion to reach the first broker');
          assert.equal(authorizerA.authorize(bob, AclOperation.WRITE, ResourceType.TOPIC, 'orders/eu-1'), false);
          assert.deepEqual(await storeA.list(ACLS_PREFIX), []);
        } finally {
          a.close();
          b.close();
        }
      }));
  });
}
