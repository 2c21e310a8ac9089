import { isScramMechanism, type ScramCredential, type ScramMechanismName } from '../security/scram.js';
import type { MetadataStore, Operation } from './metadata-store.js';
import { PrefixFollower } from './prefix-follower.js';

/**
 * Keys of the SCRAM credentials in the metadata store: `<prefix><user, URI-encoded>/<mechanism>`, each holding
 * the salt, stored key, server key and iterations (base64 and a number, as JSON). Never a password.
 */
export const SCRAM_CREDENTIALS_PREFIX = '/scram-credentials/';

function keyOf(user: string, mechanism: ScramMechanismName): string {
  return `${SCRAM_CREDENTIALS_PREFIX}${encodeURIComponent(user)}/${mechanism}`;
}

function parseKey(key: string): { user: string; mechanism: ScramMechanismName } | null {
  const rest = key.slice(SCRAM_CREDENTIALS_PREFIX.length);
  const slash = rest.lastIndexOf('/');
  const mechanism = rest.slice(slash + 1);
  if (slash < 0 || !isScramMechanism(mechanism)) return null;
  return { user: decodeURIComponent(rest.slice(0, slash)), mechanism };
}

interface StoredCredential {
  salt: string;
  storedKey: string;
  serverKey: string;
  iterations: number;
}

function encode(c: ScramCredential): string {
  const stored: StoredCredential = {
    salt: c.salt.toString('base64'),
    storedKey: c.storedKey.toString('base64'),
    serverKey: c.serverKey.toString('base64'),
    iterations: c.iterations,
  };
  return JSON.stringify(stored);
}

function decode(text: string): ScramCredential | null {
  const v = JSON.parse(text) as Partial<StoredCredential>;
  if (typeof v.salt !== 'string' || typeof v.storedKey !== 'string' || typeof v.serverKey !== 'string') return null;
  if (typeof v.iterations !== 'number') return null;
  return {
    salt: Buffer.from(v.salt, 'base64'),
    storedKey: Buffer.from(v.storedKey, 'base64'),
    serverKey: Buffer.from(v.serverKey, 'base64'),
    iterations: v.iterations,
  };
}

export type ScramCredentialChange =
  | { type: 'upsert'; user: string; mechanism: ScramMechanismName; credential: ScramCredential }
  | { type: 'delete'; user: string; mechanism: ScramMechanismName };

/**
 * The cluster's SCRAM credentials, cached in memory (authentication reads them without waiting) and kept current
 * by watching the store, so that a credential altered through any broker is used by every broker.
 */
export class ScramCredentialMetadata {
  /** By user, then by mechanism. */
  private readonly byUser = new Map<string, Map<ScramMechanismName, ScramCredential>>();
  private readonly follower = new PrefixFollower(decode, (key, credential: ScramCredential | null) =>
    this.set(key, credential),
  );

  private constructor(private readonly store: MetadataStore) {}

  static async load(store: MetadataStore): Promise<ScramCredentialMetadata> {
    const m = new ScramCredentialMetadata(store);
    await m.follower.start(store, SCRAM_CREDENTIALS_PREFIX);
    return m;
  }

  get(user: string, mechanism: ScramMechanismName): ScramCredential | undefined {
    return this.byUser.get(user)?.get(mechanism);
  }

  /** Every user with a credential, and the mechanisms and iterations of their credentials. */
  users(): Map<string, Array<{ mechanism: ScramMechanismName; iterations: number }>> {
    const out = new Map<string, Array<{ mechanism: ScramMechanismName; iterations: number }>>();
    for (const [user, mechanisms] of this.byUser)
      out.set(
        user,
        [...mechanisms].map(([mechanism, c]) => ({ mechanism, iterations: c.iterations })),
      );
    return out;
  }

  /** Writes the changes in one transaction of the store, then uses them at once. */
  async apply(changes: readonly ScramCredentialChange[]): Promise<void> {
    if (changes.length === 0) return;
    const operations: Operation[] = changes.map((c) =>
      c.type === 'upsert'
        ? { type: 'put', key: keyOf(c.user, c.mechanism), value: encode(c.credential) }
        : { type: 'delete', key: keyOf(c.user, c.mechanism) },
    );
    const r = await this.store.txn([], operations);
    for (const c of changes)
      this.follower.written(keyOf(c.user, c.mechanism), c.type === 'upsert' ? c.credential : null, r.revision);
  }

  close(): void {
    this.follower.close();
  }

  private set(key: string, credential: ScramCredential | null): void {
    const parsed = parseKey(key);
    if (!parsed) return;
    const { user, mechanism } = parsed;
    const mechanisms = this.byUser.get(user);
    if (credential) {
      if (mechanisms) mechanisms.set(mechanism, credential);
      else this.byUser.set(user, new Map([[mechanism, credential]]));
    } else if (mechanisms) {
      mechanisms.delete(mechanism);
      if (mechanisms.size === 0) this.byUser.delete(user);
    }
  }
}
