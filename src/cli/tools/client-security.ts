import { readFile } from 'node:fs/promises';
import { type ConnectionOptions, createSecureContext } from 'node:tls';
import { parseProperties } from '../../config/properties.js';
import { JaasConfigError, parseJaasConfig } from '../../security/jaas-config.js';
import { Pkcs12Error, readPkcs12Certificates } from '../../security/pkcs12-truststore.js';
import { pkcs12KeyStoreOptions } from '../../security/ssl-config.js';
import { UsageError } from './args.js';

/**
 * Kafka's client security properties (`security.protocol`, `sasl.*`, `ssl.*`), as given to the tools by
 * --command-config, --producer.config, --consumer.config and the --*-property flags, turned into the client
 * library's connection options: `tls` for node:tls and `sasl` for its SASL exchange.
 */
export interface ClientSecurity {
  tls?: ConnectionOptions;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

/** The usage line of --command-config, shared by the tools that take it. */
export const COMMAND_CONFIG_HELP = `  --command-config FILE    client properties for the connection (as Kafka's): security.protocol
                           (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), sasl.mechanism (PLAIN, SCRAM-SHA-256,
                           SCRAM-SHA-512), sasl.jaas.config, ssl.truststore.*, ssl.keystore.* (PEM or PKCS12),
                           ssl.key.password, ssl.endpoint.identification.algorithm`;

const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** The JAAS login module each mechanism's credentials come from on Kafka's client. */
const LOGIN_MODULES: Record<SaslMechanism, string> = {
  PLAIN: 'org.apache.kafka.common.security.plain.PlainLoginModule',
  'SCRAM-SHA-256': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  'SCRAM-SHA-512': 'org.apache.kafka.common.security.scram.ScramLoginModule',
};

/** Kafka's ssl.endpoint.identification.algorithm default: the broker's host name is checked against its certificate. */
const DEFAULT_ENDPOINT_IDENTIFICATION = 'https';

const CONVERT_JKS =
  'Node.js cannot read Java KeyStore (JKS) files; convert it to PKCS12 (keytool -importkeystore -deststoretype PKCS12) or PEM';

/** Whether a client property is one of those read here (so that a tool does not report it as ignored). */
export function isSecurityProperty(key: string): boolean {
  return key === 'security.protocol' || key.startsWith('ssl.') || key.startsWith('sasl.');
}

/** A Java properties file of client properties (--command-config and the like); a missing file is bad usage. */
export async function readClientProperties(file: string | undefined, flag: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (file === undefined) return out;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  for (const [key, { value }] of parseProperties(text)) out.set(key, value);
  return out;
}

async function readStore(key: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new UsageError(`${key}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}

/**
 * The connection options for Kafka's client security properties. Anything the tools cannot do as asked (an
 * unknown protocol, GSSAPI, a JKS store) is refused rather than connecting with less security than configured.
 */
export async function clientSecurity(properties: ReadonlyMap<string, string>): Promise<ClientSecurity> {
  const get = (key: string) => {
    const v = properties.get(key)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const protocol = (get('security.protocol') ?? 'PLAINTEXT').toUpperCase();
  if (!(SECURITY_PROTOCOLS as readonly string[]).includes(protocol))
    throw new UsageError(`security.protocol=${protocol}: expected one of ${SECURITY_PROTOCOLS.join(', ')}`);
  const security: ClientSecurity = {};
  if (protocol === 'SSL' || protocol === 'SASL_SSL')
    security.tls = await tlsOptions(get, properties.get('ssl.endpoint.identification.algorithm'));
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') security.sasl = saslOptions(get);
  return security;
}

function saslOptions(get: (key: string) => string | undefined): NonNullable<ClientSecurity['sasl']> {
  // Kafka's client defaults to GSSAPI, which the tools cannot do: say so rather than fail at the handshake.
  const mechanism = (get('sasl.mechanism') ?? 'GSSAPI').toUpperCase();
  if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism))
    throw new UsageError(
      `sasl.mechanism=${mechanism}${get('sasl.mechanism') ? '' : ' (the default)'}: the tools support ${SASL_MECHANISMS.join(', ')}`,
    );
  const jaas = get('sasl.jaas.config');
  if (jaas === undefined)
    throw new UsageError(
      `sasl.jaas.config is required for SASL: ${LOGIN_MODULES[mechanism as SaslMechanism]} required username="..." password="...";`,
    );
  let modules: ReturnType<typeof parseJaasConfig>;
  try {
    modules = parseJaasConfig(jaas);
  } catch (e) {
    if (e instanceof JaasConfigError) throw new UsageError(`sasl.jaas.config: ${e.message}`);
    throw e;
  }
  // Kafka's client takes exactly one login module per sasl.jaas.config.
  if (modules.length !== 1) throw new UsageError(`sasl.jaas.config must contain 1 login module, not ${modules.length}`);
  const [module] = modules as [(typeof modules)[0]];
  // Both of Kafka's modules put username and password in the same credentials, so either serves any of the
  // three mechanisms there too; other modules (Kerberos, OAuth) have no such options.
  if (!Object.values(LOGIN_MODULES).includes(module.loginModule))
    throw new UsageError(
      `sasl.jaas.config: login module ${module.loginModule} is not supported; use ${LOGIN_MODULES[mechanism as SaslMechanism]}`,
    );
  const username = module.options.get('username');
  const password = module.options.get('password');
  if (username === undefined || password === undefined)
    throw new UsageError(`sasl.jaas.config: ${module.loginModule} needs the options username and password`);
  return { mechanism: mechanism as SaslMechanism, username, password };
}

async function tlsOptions(
  get: (key: string) => string | undefined,
  endpointIdentification: string | undefined,
): Promise<ConnectionOptions> {
  const options: ConnectionOptions = { rejectUnauthorized: true };

  // The trust store: which authorities may sign the broker's certificate. Without one, Node's own CA list,
  // as Kafka's client falls back to the JVM's.
  const truststoreType = (get('ssl.truststore.type') ?? 'JKS').toUpperCase();
  const truststoreLocation = get('ssl.truststore.location');
  const truststoreCertificates = get('ssl.truststore.certificates');
  if (truststoreLocation !== undefined || truststoreCertificates !== undefined) {
    if (truststoreType === 'PEM')
      options.ca =
        truststoreCertificates ?? (await readStore('ssl.truststore.location', truststoreLocation!)).toString('utf8');
    else if (truststoreType === 'PKCS12') {
      if (truststoreLocation === undefined)
        throw new UsageError('ssl.truststore.certificates: inline certificates are PEM; set ssl.truststore.type=PEM');
      try {
        options.ca = readPkcs12Certificates(
          await readStore('ssl.truststore.location', truststoreLocation),
          get('ssl.truststore.password') ?? null,
        );
      } catch (e) {
        if (!(e instanceof Pkcs12Error)) throw e;
        throw new UsageError(`ssl.truststore.location=${truststoreLocation} (PKCS12) cannot be used: ${e.message}`);
      }
    } else if (truststoreType === 'JKS')
      throw new UsageError(
        `ssl.truststore.type=JKS${get('ssl.truststore.type') ? '' : ' (the default)'}: ${CONVERT_JKS}, and set ssl.truststore.type accordingly`,
      );
    else throw new UsageError(`ssl.truststore.type=${truststoreType}: expected PEM or PKCS12`);
  }

  // The key store: the client's own certificate, for brokers with ssl.client.auth (mutual TLS).
  const keystoreLocation = get('ssl.keystore.location');
  const inlineKey = get('ssl.keystore.key');
  const inlineChain = get('ssl.keystore.certificate.chain');
  if (keystoreLocation !== undefined || inlineKey !== undefined || inlineChain !== undefined) {
    const keystoreType = (get('ssl.keystore.type') ?? 'JKS').toUpperCase();
    const keyPassword = get('ssl.key.password');
    if (keystoreType === 'PEM') {
      if (keystoreLocation !== undefined) {
        const pem = await readStore('ssl.keystore.location', keystoreLocation);
        options.key = pem;
        options.cert = pem;
      } else if (inlineKey !== undefined && inlineChain !== undefined) {
        options.key = inlineKey;
        options.cert = inlineChain;
      } else {
        throw new UsageError('ssl.keystore.key and ssl.keystore.certificate.chain must be given together');
      }
      if (keyPassword !== undefined) options.passphrase = keyPassword;
    } else if (keystoreType === 'PKCS12') {
      if (keystoreLocation === undefined) throw new UsageError('ssl.keystore.type=PKCS12 needs ssl.keystore.location');
      const store = await readStore('ssl.keystore.location', keystoreLocation);
      try {
        // As pfx, or its key and chain when Node's OpenSSL refuses the store (RC2 inside).
        Object.assign(options, pkcs12KeyStoreOptions(store, get('ssl.keystore.password'), keyPassword));
      } catch (e) {
        if (!(e instanceof Pkcs12Error)) throw e;
        throw new UsageError(`ssl.keystore.location=${keystoreLocation} (PKCS12) cannot be used: ${e.message}`);
      }
    } else if (keystoreType === 'JKS') {
      throw new UsageError(
        `ssl.keystore.type=JKS${get('ssl.keystore.type') ? '' : ' (the default)'}: ${CONVERT_JKS}, and set ssl.keystore.type accordingly`,
      );
    } else {
      throw new UsageError(`ssl.keystore.type=${keystoreType}: expected PEM or PKCS12`);
    }
  }

  // An empty ssl.endpoint.identification.algorithm turns the host name check off, as in Kafka; the chain is
  // still verified.
  const identification = (endpointIdentification ?? DEFAULT_ENDPOINT_IDENTIFICATION).trim().toLowerCase();
  if (identification === '') options.checkServerIdentity = () => undefined;
  else if (identification !== DEFAULT_ENDPOINT_IDENTIFICATION)
    throw new UsageError(`ssl.endpoint.identification.algorithm=${identification}: expected https or an empty value`);

  try {
    createSecureContext(options);
  } catch (e) {
    throw new UsageError(`the SSL key store or trust store cannot be used: ${(e as Error).message}`);
  }
  return options;
}
