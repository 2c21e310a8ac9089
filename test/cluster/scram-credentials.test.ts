import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EmbeddedMetadataStore } from '../../src/cluster/embedded-metadata-store.js';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import type { MetadataStore } from '../../src/cluster/metadata-store.js';
import { SCRAM_CREDENTIALS_PREFIX, ScramCredentialMetadata } from '../../src/cluster/scram-credentials.js';
import { scramCredentialOf, scramSaltedPassword } from '../../src/security/scram.js';
import { withTempDir } from '../storage/helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

/** Waits for `condition` (watch events arrive asynchronously), failing after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Two stores on the same data (two brokers): the embedded store is one process's, so both are the same store. */
const implementations: {
  name: string;
  skip: string | false;
  with: (fn: (a: MetadataStore, b: MetadataStore) => Promise<void>) => Promise<void>;
}[] = [
  {
    name: 'embedded',
    skip: false,
    with: (fn) =>
      withTempDir(async (dir) => {
        const store = await EmbeddedMetadataStore.open(dir);
        try {
          await fn(store, store);
        } finally {
          await store.close();
        }
      }),
  },
  {
    name: 'etcd',
    skip: etcdUnavailable,
    with: (fn) =>
      withEtcd(async (etcd) => {
        const settings = { endpoints: [etcd.endpoint], prefix: '/samsa/scram' };
        const a = await EtcdMetadataStore.open(settings);
        const b = await EtcdMetadataStore.open(settings);
        try {
          await fn(a, b);
        } finally {
          await a.close();
          await b.close();
        }
      }),
  },
];

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
