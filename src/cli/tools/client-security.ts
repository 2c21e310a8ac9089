import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { parseProperties } from '../../config/properties.js';
import { JaasConfigError, parseJaasConfig } from '../../security/jaas-config.js';
import { ToolError } from './client.js';

/** The SASL mechanisms the tools' client speaks (Kafka's default, GSSAPI, is not among them). */
const CLIENT_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
type ClientSaslMechanism = (typeof CLIENT_SASL_MECHANISMS)[number];

/** How a tool connects, from Kafka's client security properties. */
export interface ClientSecurity {
  tls?: ConnectionOptions;
  sasl?: { mechanism: ClientSaslMechanism; username: string; password: string };
}

/**
 * `--command-config FILE`: Kafka's client properties `security.protocol`, `sasl.mechanism`, `sasl.jaas.config`
 * (PlainLoginModule or ScramLoginModule with `username` and `password`), and for TLS `ssl.truststore.type=PEM`
 * with `ssl.truststore.location` or `ssl.truststore.certificates`, `ssl.endpoint.identification.algorithm`
 * (empty: the host name is not checked). A property the client cannot honour is an error, never ignored.
 */
export async function readClientSecurity(file: string): Promise<ClientSecurity> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ToolError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const props = new Map([...parseProperties(text)].map(([k, v]) => [k, v.value.trim()]));
  const protocol = (props.get('security.protocol') ?? 'PLAINTEXT').toUpperCase();
  if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(protocol))
    throw new ToolError(`security.protocol=${protocol} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`);
  const security: ClientSecurity = {};
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const tls: ConnectionOptions = {};
    const type = (props.get('ssl.truststore.type') ?? 'JKS').toUpperCase();
    const location = props.get('ssl.truststore.location');
    const inline = props.get('ssl.truststore.certificates');
    if (location || inline) {
      if (type !== 'PEM')
        throw new ToolError(`ssl.truststore.type=${type} cannot be read here: convert the trust store to PEM`);
      tls.ca = inline ?? (await readFile(location!, 'utf8'));
    }
    if (props.get('ssl.endpoint.identification.algorithm') === '') tls.checkServerIdentity = () => undefined;
    security.tls = tls;
  }
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') {
    const mechanism = (props.get('sasl.mechanism') ?? 'GSSAPI').toUpperCase();
    if (!(CLIENT_SASL_MECHANISMS as readonly string[]).includes(mechanism))
      throw new ToolError(`sasl.mechanism=${mechanism} is not supported here (${CLIENT_SASL_MECHANISMS.join(', ')})`);
    const jaas = props.get('sasl.jaas.config');
    if (!jaas) throw new ToolError('sasl.jaas.config is required for a SASL security.protocol');
    let options: ReadonlyMap<string, string>;
    try {
      const modules = parseJaasConfig(jaas);
      if (modules.length !== 1) throw new ToolError('sasl.jaas.config must hold one login module');
      options = modules[0]!.options;
    } catch (e) {
      if (e instanceof JaasConfigError) throw new ToolError(`sasl.jaas.config: ${e.message}`);
      throw e;
    }
    const username = options.get('username');
    const password = options.get('password');
    if (username === undefined || password === undefined)
      throw new ToolError('sasl.jaas.config needs username and password options');
    security.sasl = { mechanism: mechanism as ClientSaslMechanism, username, password };
  }
  return security;
}
