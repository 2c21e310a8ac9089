import { readFileSync } from 'node:fs';
import type { SecureContextOptions, SecureVersion } from 'node:tls';
import builtinRequire from './builtin-require.cjs';
import { Pkcs12Error, readPkcs12Certificates, readPkcs12KeyStore } from './pkcs12-truststore.js';
import { SslPrincipalMapper } from './principal.js';

/** What an SSL listener needs to serve: a secure context built once at start-up, and how clients are checked. */
export interface ListenerSsl {
  /** The key store, trust store, protocols and cipher suites, checked at start-up by building a context. */
  contextOptions: SecureContextOptions;
  /** ssl.client.auth: none, requested (a certificate is asked for, and checked if given) or required. */
  clientAuth: 'none' | 'requested' | 'required';
  principalMapper: SslPrincipalMapper;
}

/** An SSL setting that cannot be used; the message names the key (and the file) at fault. */
export class SslConfigError extends Error {
  override readonly name = 'SslConfigError';
}

/** Kafka's TLS protocol names, in order, and Node's names for them. */
const PROTOCOLS: Record<string, SecureVersion> = {
  TLSv1: 'TLSv1',
  'TLSv1.1': 'TLSv1.1',
  'TLSv1.2': 'TLSv1.2',
  'TLSv1.3': 'TLSv1.3',
};
const PROTOCOL_ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
/** Values of ssl.protocol (the SSLContext algorithm in Kafka). */
const SSL_CONTEXT_PROTOCOLS = new Set(['TLS', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
const DEFAULT_ENABLED_PROTOCOLS = 'TLSv1.2,TLSv1.3';

/**
 * IANA (Java) names of TLS 1.2 cipher suites as OpenSSL names them; TLS 1.3 suites have the same name in both.
 * Kafka's ssl.cipher.suites uses Java's names.
 */
const TLS12_CIPHERS: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: 'DHE-RSA-AES128-GCM-SHA256',
  TLS_DHE_RSA_WITH_AES_256_GCM_SHA384: 'DHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384: 'ECDHE-ECDSA-AES256-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384: 'ECDHE-RSA-AES256-SHA384',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
};
const TLS13_CIPHERS = new Set([
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_CCM_SHA256',
  'TLS_AES_128_CCM_8_SHA256',
]);

/**
 * What node:tls is given for a PKCS12 key store: the store itself (`pfx`) when Node's OpenSSL reads it, else its
 * key and chain as PEM read by `readPkcs12KeyStore`: Node's OpenSSL 3 refuses stores with RC2 in them
 * (OpenSSL 1.x's and old keytools' default for certificates) as "Unsupported PKCS12 PFX data". Any other refusal
 * (a wrong password, a JKS file) is left for the caller's createSecureContext to report. Node takes one password
 * for the store; Kafka's key password is the store's unless set apart, and read here for the key bag alone.
 * Throws Pkcs12Error when the store cannot be read here either.
 */
export function pkcs12KeyStoreOptions(
  file: Buffer,
  storePassword: string | undefined,
  keyPassword: string | undefined,
): Pick<SecureContextOptions, 'pfx' | 'passphrase' | 'key' | 'cert'> {
  const pfx = { pfx: file, passphrase: keyPassword ?? storePassword ?? '' };
  const { createSecureContext } = builtinRequire('node:tls') as typeof import('node:tls');
  try {
    createSecureContext(pfx);
    return pfx;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_CRYPTO_UNSUPPORTED_OPERATION') return pfx;
  }
  return readPkcs12KeyStore(file, storePassword ?? keyPassword ?? '', keyPassword ?? storePassword ?? '');
}

const CONVERT_JKS =
  'Node.js cannot read Java KeyStore (JKS) files; convert it to PKCS12 (keytool -importkeystore -deststoretype PKCS12) or PEM';

/**
 * Builds an SSL listener's settings from Kafka's keys. `lookup` gives a key's value for this listener:
 * `listener.name.<name>.ssl.*` first, then `ssl.*`, as Kafka does for each key.
 */
export function resolveListenerSsl(listenerName: string, lookup: (key: string) => string | undefined): ListenerSsl {
  const prefix = `listener.name.${listenerName.toLowerCase()}.`;
  const named = (key: string) => (lookup(`${prefix}${key}`) !== undefined ? `${prefix}${key}` : key);
  const get = (key: string) => {
    const v = lookup(`${prefix}${key}`) ?? lookup(key);
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const read = (key: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new SslConfigError(`${named(key)}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
  };

  const options: SecureContextOptions = {};
  const where: string[] = [];

  // The key store: the listener's key and certificate chain.
  const keystoreType = (get('ssl.keystore.type') ?? 'JKS').toUpperCase();
  const keystoreLocation = get('ssl.keystore.location');
  const keystorePassword = get('ssl.keystore.password');
  const keyPassword = get('ssl.key.password');
  if (keystoreType === 'JKS') {
    throw new SslConfigError(
      `${named('ssl.keystore.type')}=JKS${keystoreLocation ? ` (${keystoreLocation})` : ' (the default)'}: ${CONVERT_JKS}, and set ssl.keystore.type accordingly`,
    );
  } else if (keystoreType === 'PEM') {
    if (keystorePassword !== undefined)
      throw new SslConfigError(
        `${named('ssl.keystore.password')}: a PEM key store has no store password; give the private key's password as ssl.key.password`,
      );
    const inlineKey = get('ssl.keystore.key');
    const inlineChain = get('ssl.keystore.certificate.chain');
    if (keystoreLocation !== undefined) {
      if (inlineKey !== undefined || inlineChain !== undefined)
        throw new SslConfigError(
          `${named('ssl.keystore.location')}: give the PEM key store either as a file or as ssl.keystore.key and ssl.keystore.certificate.chain, not both`,
        );
      const pem = read('ssl.keystore.location', keystoreLocation);
      options.key = pem;
      options.cert = pem;
      where.push(`${named('ssl.keystore.location')}=${keystoreLocation}`);
    } else if (inlineKey !== undefined && inlineChain !== undefined) {
      options.key = inlineKey;
      options.cert = inlineChain;
      where.push(`${named('ssl.keystore.key')} and ${named('ssl.keystore.certificate.chain')}`);
    } else {
      throw new SslConfigError(
        `listener ${listenerName} is SSL but has no key store: set ssl.keystore.location, or ssl.keystore.key and ssl.keystore.certificate.chain (ssl.keystore.type=PEM)`,
      );
    }
    if (keyPassword !== undefined) options.passphrase = keyPassword;
  } else if (keystoreType === 'PKCS12') {
    if (keystoreLocation === undefined)
      throw new SslConfigError(`listener ${listenerName} is SSL but has no key store: set ssl.keystore.location`);
    try {
      Object.assign(
        options,
        pkcs12KeyStoreOptions(read('ssl.keystore.location', keystoreLocation), keystorePassword, keyPassword),
      );
    } catch (e) {
      if (!(e instanceof Pkcs12Error)) throw e;
      throw new SslConfigError(
        `${named('ssl.keystore.location')}=${keystoreLocation} (PKCS12) cannot be used: ${e.message}`,
      );
    }
    where.push(`${named('ssl.keystore.location')}=${keystoreLocation}`);
  } else {
    throw new SslConfigError(
      `${named('ssl.keystore.type')}=${keystoreType}: expected PEM or PKCS12 (or JKS, which Node.js cannot read)`,
    );
  }

  // The trust store: the certificate authorities client certificates are checked against.
  const truststoreType = (get('ssl.truststore.type') ?? 'JKS').toUpperCase();
  const truststoreLocation = get('ssl.truststore.location');
  const truststoreCertificates = get('ssl.truststore.certificates');
  if (truststoreLocation !== undefined || truststoreCertificates !== undefined) {
    if (truststoreType === 'PEM') {
      options.ca = truststoreCertificates ?? read('ssl.truststore.location', truststoreLocation!).toString('utf8');
      where.push(
        truststoreLocation
          ? `${named('ssl.truststore.location')}=${truststoreLocation}`
          : named('ssl.truststore.certificates'),
      );
    } else if (truststoreType === 'PKCS12') {
      if (truststoreLocation === undefined)
        throw new SslConfigError(
          `${named('ssl.truststore.certificates')}: inline certificates are PEM; set ssl.truststore.type=PEM`,
        );
      try {
        options.ca = readPkcs12Certificates(
          read('ssl.truststore.location', truststoreLocation),
          get('ssl.truststore.password') ?? null,
        );
      } catch (e) {
        if (!(e instanceof Pkcs12Error)) throw e;
        throw new SslConfigError(
          `${named('ssl.truststore.location')}=${truststoreLocation} (PKCS12) cannot be used: ${e.message}`,
        );
      }
      where.push(`${named('ssl.truststore.location')}=${truststoreLocation}`);
    } else if (truststoreType === 'JKS') {
      throw new SslConfigError(
        `${named('ssl.truststore.type')}=JKS${truststoreLocation ? ` (${truststoreLocation})` : ' (the default)'}: ${CONVERT_JKS}, and set ssl.truststore.type accordingly`,
      );
    } else {
      throw new SslConfigError(`${named('ssl.truststore.type')}=${truststoreType}: expected PEM or PKCS12`);
    }
  }

  const clientAuth = (get('ssl.client.auth') ?? 'none').toLowerCase();
  if (clientAuth !== 'none' && clientAuth !== 'requested' && clientAuth !== 'required')
    throw new SslConfigError(`${named('ssl.client.auth')}=${clientAuth}: expected none, requested or required`);

  const sslProtocol = get('ssl.protocol') ?? 'TLSv1.3';
  if (!SSL_CONTEXT_PROTOCOLS.has(sslProtocol))
    throw new SslConfigError(
      `${named('ssl.protocol')}=${sslProtocol}: expected one of ${[...SSL_CONTEXT_PROTOCOLS].join(', ')}`,
    );
  const enabled = (get('ssl.enabled.protocols') ?? DEFAULT_ENABLED_PROTOCOLS).split(',').map((p) => p.trim());
  for (const p of enabled)
    if (!PROTOCOLS[p])
      throw new SslConfigError(
        `${named('ssl.enabled.protocols')}: unknown protocol ${p}; expected ${PROTOCOL_ORDER.join(', ')}`,
      );
  // Node enables a range of versions: the lowest to the highest named (Kafka's lists are ranges in practice).
  const ordered = PROTOCOL_ORDER.filter((p) => enabled.includes(p));
  options.minVersion = PROTOCOLS[ordered[0]!]!;
  options.maxVersion = PROTOCOLS[ordered[ordered.length - 1]!]!;

  const suites = get('ssl.cipher.suites');
  if (suites !== undefined) {
    const tls12: string[] = [];
    const tls13: string[] = [];
    for (const s of suites
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '')) {
      if (TLS13_CIPHERS.has(s)) tls13.push(s);
      else if (TLS12_CIPHERS[s]) tls12.push(TLS12_CIPHERS[s]!);
      else throw new SslConfigError(`${named('ssl.cipher.suites')}: unknown or unsupported cipher suite ${s}`);
    }
    // Node takes both versions' suites in one list (TLS 1.3 ones by their IANA names).
    options.ciphers = [...tls13, ...tls12].join(':');
  }

  let principalMapper: SslPrincipalMapper;
  try {
    principalMapper = new SslPrincipalMapper(get('ssl.principal.mapping.rules') ?? 'DEFAULT');
  } catch (e) {
    throw new SslConfigError(`${named('ssl.principal.mapping.rules')}: ${(e as Error).message}`);
  }

  // node:tls is loaded only for an SSL listener's settings: a broker without one never pays for it.
  const { createSecureContext } = builtinRequire('node:tls') as typeof import('node:tls');
  try {
    createSecureContext(options);
  } catch (e) {
    throw new SslConfigError(
      `listener ${listenerName}: the key store or trust store cannot be used (${where.join(', ')}): ${(e as Error).message}`,
    );
  }
  return { contextOptions: options, clientAuth, principalMapper };
}
