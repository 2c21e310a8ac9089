import { EmbeddedMetadataStore } from '../../src/cluster/embedded-metadata-store.js';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import type { MetadataStore } from '../../src/cluster/metadata-store.js';
import { withTempDir } from '../storage/helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

/**
 * Waits for `condition` (watch events arrive asynchronously), failing as hung after `timeoutMs`: a bound on a hang,
 * not a timing assertion, so ample (etcd and this process share a loaded machine).
 */
export async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Two stores on the same data (two brokers), for each implementation: the embedded store is one process's, so
 * both are the same store; on etcd they are two clients under `etcdPrefix`.
 */
export function storePairs(etcdPrefix: string): {
  name: string;
  skip: string | false;
  with: (fn: (a: MetadataStore, b: MetadataStore) => Promise<void>) => Promise<void>;
}[] {
  return [
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
          const settings = { endpoints: [etcd.endpoint], prefix: etcdPrefix };
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
}
