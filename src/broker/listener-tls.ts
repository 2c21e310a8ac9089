/**
 * Renewing a TLS listener's certificates at run time, as Kafka's dynamic listener SSL configs do: the key store
 * and trust store set per broker under the listener's prefix (`listener.name.<l>.ssl.keystore.location`, ...)
 * through AlterConfigs or IncrementalAlterConfigs. A change is checked before it is stored (the files load, and
 * the new certificate names the broker as the old one did: same subject and subject alternative names, Kafka's
 * rule) and applied to new TLS sessions once stored, at start-up too; sessions already up keep theirs. Setting a
 * location to the same path reads the file again, the way to pick up a certificate renewed in place.
 */
import { X509Certificate } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { RELOADABLE_LISTENER_SSL_KEY } from '../config/dynamic-broker-config.js';
import type { Logger } from '../observability/logger.js';
import builtinRequire from '../security/builtin-require.cjs';
import { resolveListenerSsl, SslConfigError } from '../security/ssl-config.js';

export interface ReloadableListener {
  name: string;
  updateSsl(contextOptions: SecureContextOptions): void;
}

/** The identity a certificate gives the broker: Kafka compares these before it accepts a new key store. */
function identityOf(options: SecureContextOptions): { subject: string; altNames: string } | null {
  // createSecureContext's native context is the only way to read the certificate out of a PKCS#12 store. node:tls
  // is required here, not imported: only brokers with SSL listeners load it.
  const { createSecureContext } = builtinRequire('node:tls') as typeof import('node:tls');
  const der = (createSecureContext(options).context as { getCertificate(): Buffer | null }).getCertificate();
  if (!der) return null;
  const certificate = new X509Certificate(der);
  return { subject: certificate.subject, altNames: certificate.subjectAltName ?? '' };
}

export class ListenerTls {
  /** The per-broker SSL values in force, so that an unchanged set is not read again on every config change. */
  private applied = new Map<string, string>();

  constructor(
    private readonly listeners: ReloadableListener[],
    private readonly staticLookup: (key: string) => string | undefined,
    private readonly current: (name: string) => SecureContextOptions | undefined,
    private readonly logger: Logger,
  ) {}

  /** Whether this config set holds listener SSL keys at all. */
  static touches(configs: Record<string, string>): boolean {
    return Object.keys(configs).some((k) => RELOADABLE_LISTENER_SSL_KEY.test(k));
  }

  /** Why these per-broker configs cannot serve the listeners (Kafka answers INVALID_REQUEST with it), or null. */
  check(configs: Record<string, string>): string | null {
    for (const listener of this.listeners) {
      const prefix = `listener.name.${listener.name.toLowerCase()}.ssl.`;
      if (!Object.keys(configs).some((k) => k.startsWith(prefix))) continue;
      let next: SecureContextOptions;
      try {
        next = this.resolve(listener.name, configs);
      } catch (e) {
        if (e instanceof SslConfigError)
          return `Validation of dynamic config update of SSLFactory failed: ${e.message}`;
        throw e;
      }
      const before = this.current(listener.name);
      if (!before) return `Listener ${listener.name} is not an SSL listener`;
      const [was, will] = [identityOf(before), identityOf(next)];
      if (was && will && (was.subject !== will.subject || was.altNames !== will.altNames))
        return `Validation of dynamic config update of SSLFactory failed: Keystore DistinguishedName or SubjectAltNames do not match: existingDN = ${was.subject.replaceAll('\n', ', ')}, existingSANs = [${was.altNames}], newDN = ${will.subject.replaceAll('\n', ', ')}, newSANs = [${will.altNames}]`;
    }
    return null;
  }

  /**
   * Serves the listeners with these per-broker configs: every listener whose SSL values changed, or whose name
   * (lower case, as in the keys) is in `reread` (set again to the same values), loads its files again.
   */
  apply(configs: Record<string, string>, reread: ReadonlySet<string> = new Set()): void {
    const values = new Map(Object.entries(configs).filter(([k]) => RELOADABLE_LISTENER_SSL_KEY.test(k)));
    for (const listener of this.listeners) {
      const prefix = `listener.name.${listener.name.toLowerCase()}.ssl.`;
      const mine = (m: Map<string, string>) => JSON.stringify([...m].filter(([k]) => k.startsWith(prefix)).sort());
      if (mine(values) === mine(this.applied) && !reread.has(listener.name.toLowerCase())) continue;
      try {
        listener.updateSsl(this.resolve(listener.name, configs));
        this.logger.info('listener certificates reloaded', { listener: listener.name });
      } catch (e) {
        // Checked when stored; a file gone since then leaves the listener as it was, for the operator to fix.
        this.logger.error('listener certificates not reloaded', { listener: listener.name, error: e as Error });
      }
    }
    this.applied = values;
  }

  /** The listener's context options from the per-broker values over server.properties. */
  private resolve(name: string, configs: Record<string, string>): SecureContextOptions {
    const ssl = resolveListenerSsl(name, (key) =>
      RELOADABLE_LISTENER_SSL_KEY.test(key) && configs[key] !== undefined ? configs[key] : this.staticLookup(key),
    );
    return ssl.contextOptions;
  }
}
