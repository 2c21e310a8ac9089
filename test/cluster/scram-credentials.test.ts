import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SCRAM_CREDENTIALS_PREFIX, ScramCredentialMetadata } from '../../src/cluster/scram-credentials.js';
import { scramCredentialOf, scramSaltedPassword } from '../../src/security/scram.js';
import { storePairs, until } from './store-pairs.js';

const implementations = storePairs('/samsa/scram');

for (const impl of implementations) {
  describe(`SCRAM credentials on the ${impl.name} store`, { skip: impl.skip }, () => {
    test('a credential written through one view is used by another, deleted likewise; no password is stored', () =>
      impl.with(async (storeA, storeB) => {
        const a = await ScramCredentialMetadata.load(storeA);
        const b = await ScramCredentialMetadata.load(storeB);
        try {
          const salt = Buffer.from('salt-of-alice');
          const salted = scramSaltedPassword('SCRAM-SHA-256', 'alice-secret', salt, 4096);
          const credential = scramCredentialOf('SCRAM-SHA-256', salted, salt, 4096);
          await a.apply([{ type: 'upsert', user: 'al/ice', mechanism: 'SCRAM-SHA-256', credential }]);
          assert.deepEqual(a.get('al/ice', 'SCRAM-SHA-256'), credential);
          await until(() => b.get('al/ice', 'SCRAM-SHA-256') !== undefined, 'the other view to see the credential');
          assert.deepEqual(b.get('al/ice', 'SCRAM-SHA-256'), credential);
          assert.deepEqual([...b.users()], [['al/ice', [{ mechanism: 'SCRAM-SHA-256', iterations: 4096 }]]]);
          const stored = (await storeA.list(SCRAM_CREDENTIALS_PREFIX)).map((kv) => kv.value).join('');
          assert.ok(!stored.includes(salted.toString('base64')), 'the salted password is not stored');
          assert.ok(!stored.includes('alice-secret'));
          // A view loaded now reads it from the store.
          const c = await ScramCredentialMetadata.load(storeB);
          assert.deepEqual(c.get('al/ice', 'SCRAM-SHA-256'), credential);
          c.close();
          await b.apply([{ type: 'delete', user: 'al/ice', mechanism: 'SCRAM-SHA-256' }]);
          await until(() => a.get('al/ice', 'SCRAM-SHA-256') === undefined, 'the deletion to reach the first view');
          assert.equal(a.users().size, 0);
        } finally {
          a.close();
          b.close();
        }
      }));
  });
}
