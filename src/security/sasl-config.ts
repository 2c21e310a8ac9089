import { JaasConfigError, type JaasLoginModule, parseJaasConfig } from './jaas-config.js';

/** The SASL mechanisms Samsa serves. */
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** Kafka's mechanisms that Samsa does not have, refused at start-up rather than served badly. */
const NOT_BUILT: Record<string, string> = {
  GSSAPI: 'GSSAPI (Kerberos) is not built in Samsa',
  OAUTHBEARER: 'OAUTHBEARER is not built in Samsa',
};

/** Kafka's default sasl.enabled.mechanisms. */
const DEFAULT_ENABLED_MECHANISMS = 'GSSAPI';

/** The login module each mechanism's JAAS entry names, as Kafka's broker loads it. */
const LOGIN_MODULES: Record<SaslMechanism, string> = {
  PLAIN: 'org.apache.kafka.common.security.plain.PlainLoginModule',
  'SCRAM-SHA-256': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  'SCRAM-SHA-512': 'org.apache.kafka.common.security.scram.ScramLoginModule',
};

/** The prefix of PlainLoginModule options that each name a user the broker accepts: `user_<name>="<password>"`. */
const PLAIN_USER_PREFIX = 'user_';

/** What a SASL_PLAINTEXT or SASL_SSL listener serves. */
export interface ListenerSasl {
  /** sasl.enabled.mechanisms of this listener, in the configured order (given to clients in SaslHandshake). */
  enabledMechanisms: SaslMechanism[];
  /** PLAIN's users and their passwords, from the PlainLoginModule entry's `user_<name>` options. */
  plainUsers: ReadonlyMap<string, string>;
}

/** A SASL setting that cannot be used; the message names the key and never quotes a JAAS value. */
export class SaslConfigError extends Error {
  override readonly name = 'SaslConfigError';
}

/**
 * Builds a SASL listener's settings from Kafka's keys. `sasl.enabled.mechanisms` is read for the listener
 * (`listener.name.<l>.sasl.enabled.mechanisms` first); each mechanism's JAAS entry comes from
 * `listener.name.<l>.<mechanism lower case>.sasl.jaas.config`, the only place Kafka's broker reads it from
 * besides a JAAS file (which Samsa does not read).
 */
export function resolveListenerSasl(listenerName: string, lookup: (key: string) => string | undefined): ListenerSasl {
  const prefix = `listener.name.${listenerName.toLowerCase()}.`;
  const mechanismsKey =
    lookup(`${prefix}sasl.enabled.mechanisms`) !== undefined
      ? `${prefix}sasl.enabled.mechanisms`
      : 'sasl.enabled.mechanisms';
  const text = lookup(mechanismsKey) ?? DEFAULT_ENABLED_MECHANISMS;
  const names = text
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (names.length === 0)
    throw new SaslConfigError(`${mechanismsKey}: listener ${listenerName} is SASL but enables no mechanism`);
  const enabledMechanisms: SaslMechanism[] = [];
  for (const name of names) {
    const notBuilt = NOT_BUILT[name];
    if (notBuilt)
      throw new SaslConfigError(
        `${mechanismsKey}=${text} (listener ${listenerName}): ${notBuilt}; enable ${SASL_MECHANISMS.join(', ')}`,
      );
    if (!(SASL_MECHANISMS as readonly string[]).includes(name))
      throw new SaslConfigError(
        `${mechanismsKey}: unknown SASL mechanism ${name} (listener ${listenerName}); Samsa serves ${SASL_MECHANISMS.join(', ')}`,
      );
    if (!enabledMechanisms.includes(name as SaslMechanism)) enabledMechanisms.push(name as SaslMechanism);
  }
  let plainUsers: ReadonlyMap<string, string> = new Map();
  for (const mechanism of enabledMechanisms) {
    const module = loginModule(prefix, listenerName, mechanism, lookup);
    if (mechanism === 'PLAIN') plainUsers = plainUsersOf(module);
  }
  return { enabledMechanisms, plainUsers };
}

/** The one login module of a mechanism's JAAS entry, checked to be the module Kafka's broker uses for it. */
function loginModule(
  prefix: string,
  listenerName: string,
  mechanism: SaslMechanism,
  lookup: (key: string) => string | undefined,
): JaasLoginModule {
  const key = `${prefix}${mechanism.toLowerCase()}.sasl.jaas.config`;
  const text = lookup(key);
  const expected = LOGIN_MODULES[mechanism];
  if (text === undefined || text.trim() === '')
    throw new SaslConfigError(
      `listener ${listenerName} enables ${mechanism} but ${key} is not set (for example ${expected} required${mechanism === 'PLAIN' ? ' user_alice="alice-secret"' : ''};)`,
    );
  let modules: JaasLoginModule[];
  try {
    modules = parseJaasConfig(text);
  } catch (e) {
    if (e instanceof JaasConfigError) throw new SaslConfigError(`${key}: ${e.message}`);
    throw e;
  }
  if (modules.length !== 1)
    throw new SaslConfigError(
      `${key}: JAAS config property contains ${modules.length} login modules, should be 1 module`,
    );
  const module = modules[0]!;
  if (module.loginModule !== expected)
    throw new SaslConfigError(`${key}: ${mechanism} needs login module ${expected}, not ${module.loginModule}`);
  return module;
}

function plainUsersOf(module: JaasLoginModule): Map<string, string> {
  const users = new Map<string, string>();
  for (const [option, value] of module.options) {
    if (option.startsWith(PLAIN_USER_PREFIX) && option.length > PLAIN_USER_PREFIX.length)
      users.set(option.slice(PLAIN_USER_PREFIX.length), value);
  }
  return users;
}
