import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JaasConfigError, type JaasLoginModule, parseJaasConfig } from './jaas-config.js';
import {
  DEFAULT_JWKS_REFRESH_MS,
  DEFAULT_JWKS_RETRY_BACKOFF_MAX_MS,
  DEFAULT_JWKS_RETRY_BACKOFF_MS,
  JwksEndpoint,
} from './jwks-endpoint.js';
import { JsonWebKeySet, JwsError } from './jws.js';
import { JwksValidator, type OAuthBearerValidator, UnsecuredValidator } from './oauthbearer.js';

/** The SASL mechanisms Samsa serves. */
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** Kafka's mechanisms that Samsa does not have, refused at start-up rather than served badly. */
const NOT_BUILT: Record<string, string> = {
  GSSAPI: 'GSSAPI (Kerberos) is not built in Samsa',
};

/** Kafka's default sasl.enabled.mechanisms. */
const DEFAULT_ENABLED_MECHANISMS = 'GSSAPI';

/** The login module each mechanism's JAAS entry names, as Kafka's broker loads it. */
const LOGIN_MODULES: Record<SaslMechanism, string> = {
  PLAIN: 'org.apache.kafka.common.security.plain.PlainLoginModule',
  'SCRAM-SHA-256': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  'SCRAM-SHA-512': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  OAUTHBEARER: 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule',
};

/**
 * Kafka's OAUTHBEARER validator callback handlers, by what they select: the JWKS-verifying one (KIP-768; its
 * package moved in Kafka 3.8) and the unsecured one, which is also the default when none is set.
 */
export const OAUTHBEARER_VALIDATOR_CLASSES: Record<string, 'jwks' | 'unsecured'> = {
  'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler': 'jwks',
  'org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler': 'jwks',
  'org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler':
    'unsecured',
};

/** Kafka's defaults for the secured validator's settings. */
const DEFAULT_CLOCK_SKEW_SECONDS = 30;
const DEFAULT_SUB_CLAIM_NAME = 'sub';
const DEFAULT_SCOPE_CLAIM_NAME = 'scope';
/** A JWKS file is read again when a token names a key it lacks, at most this often (a key rotation). */
const JWKS_RELOAD_MIN_INTERVAL_MS = 1_000;

/** The prefix of PlainLoginModule options that each name a user the broker accepts: `user_<name>="<password>"`. */
const PLAIN_USER_PREFIX = 'user_';

/** What a SASL_PLAINTEXT or SASL_SSL listener serves. */
export interface ListenerSasl {
  /** sasl.enabled.mechanisms of this listener, in the configured order (given to clients in SaslHandshake). */
  enabledMechanisms: SaslMechanism[];
  /** PLAIN's users and their passwords, from the PlainLoginModule entry's `user_<name>` options. */
  plainUsers: ReadonlyMap<string, string>;
  /** OAUTHBEARER's token validator, when the listener enables it. */
  oauthBearer: OAuthBearerValidator | null;
  /**
   * connections.max.reauth.ms per enabled mechanism (KIP-368): how long an authentication lasts before the
   * client must authenticate again on the same connection; 0 for no limit beyond the credential's own.
   */
  maxReauthMs: ReadonlyMap<SaslMechanism, number>;
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
  let oauthBearer: OAuthBearerValidator | null = null;
  for (const mechanism of enabledMechanisms) {
    const module = loginModule(prefix, listenerName, mechanism, lookup);
    if (mechanism === 'PLAIN') plainUsers = plainUsersOf(module);
    if (mechanism === 'OAUTHBEARER') oauthBearer = oauthBearerValidator(prefix, module, lookup);
  }
  const maxReauthMs = new Map<SaslMechanism, number>();
  for (const mechanism of enabledMechanisms) {
    const own = `${prefix}${mechanism.toLowerCase()}.connections.max.reauth.ms`;
    const key = lookup(own) !== undefined ? own : 'connections.max.reauth.ms';
    const text = lookup(key)?.trim() ?? '0';
    const ms = Number(text);
    if (text === '' || !Number.isSafeInteger(ms) || ms < 0)
      throw new SaslConfigError(`${key}=${text}: a number of milliseconds, 0 or more`);
    maxReauthMs.set(mechanism, ms);
  }
  return { enabledMechanisms, plainUsers, oauthBearer, maxReauthMs };
}

/**
 * OAUTHBEARER's validator, chosen as Kafka chooses its server callback handler
 * (`listener.name.<l>.oauthbearer.sasl.server.callback.handler.class`): unsecured by default, JWKS-verified with
 * Kafka's OAuthBearerValidatorCallbackHandler. The `sasl.oauthbearer.*` settings are read for the listener's
 * mechanism first (`listener.name.<l>.oauthbearer.sasl.oauthbearer.*`), then broker-wide.
 */
function oauthBearerValidator(
  prefix: string,
  module: JaasLoginModule,
  lookup: (key: string) => string | undefined,
): OAuthBearerValidator {
  const mechanismPrefix = `${prefix}oauthbearer.`;
  const handlerKey = `${mechanismPrefix}sasl.server.callback.handler.class`;
  const handlerClass = lookup(handlerKey)?.trim();
  const kind = handlerClass ? OAUTHBEARER_VALIDATOR_CLASSES[handlerClass] : 'unsecured';
  if (kind === undefined)
    throw new SaslConfigError(
      `${handlerKey}=${handlerClass}: Samsa cannot load Java classes; use ${Object.keys(OAUTHBEARER_VALIDATOR_CLASSES)[0]}`,
    );
  if (kind === 'unsecured') {
    const option = (name: string) => module.options.get(`unsecuredValidator${name}`)?.trim() || undefined;
    const skewText = option('AllowableClockSkewMs') ?? '0';
    const allowableClockSkewMs = Number(skewText);
    if (!Number.isInteger(allowableClockSkewMs) || allowableClockSkewMs < 0)
      throw new SaslConfigError(
        `${mechanismPrefix}sasl.jaas.config: unsecuredValidatorAllowableClockSkewMs must be a non-negative integer`,
      );
    return new UnsecuredValidator({
      principalClaimName: option('PrincipalClaimName') ?? DEFAULT_SUB_CLAIM_NAME,
      scopeClaimName: option('ScopeClaimName') ?? DEFAULT_SCOPE_CLAIM_NAME,
      requiredScope: (option('RequiredScope') ?? '').split(' ').filter((s) => s !== ''),
      allowableClockSkewMs,
    });
  }
  const setting = (name: string): { key: string; value: string | undefined } => {
    const own = `${mechanismPrefix}sasl.oauthbearer.${name}`;
    const value = lookup(own);
    if (value !== undefined) return { key: own, value: value.trim() };
    return { key: `sasl.oauthbearer.${name}`, value: lookup(`sasl.oauthbearer.${name}`)?.trim() };
  };
  const url = setting('jwks.endpoint.url');
  if (!url.value)
    throw new SaslConfigError(`${handlerKey}=${handlerClass} needs ${url.key} (the JWKS that signs the tokens)`);
  const jwks = /^https?:/i.test(url.value)
    ? jwksEndpoint(url.key, url.value, setting, module)
    : new JwksFile(url.key, url.value);
  const skew = setting('clock.skew.seconds');
  const clockSkewSeconds = skew.value ? Number(skew.value) : DEFAULT_CLOCK_SKEW_SECONDS;
  if (!Number.isInteger(clockSkewSeconds) || clockSkewSeconds < 0)
    throw new SaslConfigError(`${skew.key}=${skew.value}: a non-negative number of seconds`);
  return new JwksValidator({
    keys: () => jwks.keys,
    refresh: (kid) => (jwks instanceof JwksEndpoint ? jwks.expediteRefresh(kid) : jwks.reload()),
    ...(jwks instanceof JwksEndpoint
      ? { start: (onError: (error: Error) => void) => jwks.start(onError), close: () => jwks.close() }
      : {}),
    expectedAudience: (setting('expected.audience').value ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
    expectedIssuer: setting('expected.issuer').value || null,
    subClaimName: setting('sub.claim.name').value || DEFAULT_SUB_CLAIM_NAME,
    scopeClaimName: setting('scope.claim.name').value || DEFAULT_SCOPE_CLAIM_NAME,
    clockSkewMs: clockSkewSeconds * 1000,
  });
}

/** A whole number of milliseconds from a sasl.oauthbearer.jwks.endpoint.* setting, or its default. */
function millis(setting: { key: string; value: string | undefined }, fallback: number, min: number): number {
  if (!setting.value) return fallback;
  const ms = Number(setting.value);
  if (!Number.isSafeInteger(ms) || ms < min)
    throw new SaslConfigError(`${setting.key}=${setting.value}: a number of milliseconds, ${min} or more`);
  return ms;
}

/**
 * A JWKS endpoint (http: or https:), with Kafka's refresh and retry settings. An https endpoint is trusted as
 * Kafka's validator trusts it: through the `ssl.truststore.*` options of the JAAS entry (PEM here), else the
 * system's certificate authorities; `ssl.endpoint.identification.algorithm=""` there skips the host name check.
 */
function jwksEndpoint(
  key: string,
  url: string,
  setting: (name: string) => { key: string; value: string | undefined },
  module: JaasLoginModule,
): JwksEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SaslConfigError(`${key}=${url}: not a URL`);
  }
  const option = (name: string) => module.options.get(name);
  const storeType = option('ssl.truststore.type')?.trim().toUpperCase();
  if (storeType !== undefined && storeType !== 'PEM')
    throw new SaslConfigError(
      `${key}: the JAAS option ssl.truststore.type=${storeType} cannot be read by Node.js: give the JWKS endpoint's certificate authorities as PEM`,
    );
  let ca: string[] | undefined;
  const inline = option('ssl.truststore.certificates');
  const location = option('ssl.truststore.location');
  if (inline) ca = [inline];
  else if (location) {
    try {
      ca = [readFileSync(location, 'utf8')];
    } catch (e) {
      throw new SaslConfigError(`${key}: cannot read ssl.truststore.location ${location}: ${(e as Error).message}`);
    }
  }
  const identification = option('ssl.endpoint.identification.algorithm');
  return new JwksEndpoint(key, parsed, {
    refreshMs: millis(setting('jwks.endpoint.refresh.ms'), DEFAULT_JWKS_REFRESH_MS, 1),
    retryBackoffMs: millis(setting('jwks.endpoint.retry.backoff.ms'), DEFAULT_JWKS_RETRY_BACKOFF_MS, 0),
    retryBackoffMaxMs: millis(setting('jwks.endpoint.retry.backoff.max.ms'), DEFAULT_JWKS_RETRY_BACKOFF_MAX_MS, 0),
    ...(ca ? { ca } : {}),
    ...(identification !== undefined && identification.trim() === '' ? { checkHostName: false } : {}),
  });
}

/**
 * A JWKS kept in a file (`sasl.oauthbearer.jwks.endpoint.url=file:...`, as Kafka accepts): read at start-up,
 * where a missing or unreadable file stops the broker, and read again when a token names a key id the set
 * lacks (keys rotated), at most once per JWKS_RELOAD_MIN_INTERVAL_MS; a file that became unreadable keeps the
 * last good set.
 */
class JwksFile {
  keys: JsonWebKeySet;
  private readonly path: string;
  private loadedAt = 0;

  constructor(
    private readonly key: string,
    url: string,
  ) {
    if (!url.startsWith('file:'))
      throw new SaslConfigError(`${key}=${url}: a JWKS is read from an https:, http: or file: URL`);
    try {
      this.path = fileURLToPath(url);
    } catch {
      throw new SaslConfigError(`${key}=${url}: not a file URL`);
    }
    this.keys = this.read();
  }

  private read(): JsonWebKeySet {
    this.loadedAt = Date.now();
    let set: JsonWebKeySet;
    try {
      set = new JsonWebKeySet(JSON.parse(readFileSync(this.path, 'utf8')));
    } catch (e) {
      const why = e instanceof JwsError ? e.message : e instanceof SyntaxError ? 'not JSON' : (e as Error).message;
      throw new SaslConfigError(`${this.key}: cannot read the JWKS in ${this.path}: ${why}`);
    }
    if (set.size === 0) throw new SaslConfigError(`${this.key}: the JWKS in ${this.path} has no usable signing key`);
    return set;
  }

  reload(): void {
    if (Date.now() - this.loadedAt < JWKS_RELOAD_MIN_INTERVAL_MS) return;
    try {
      this.keys = this.read();
    } catch {
      // Keep the last good set: a file being rewritten must not lock every client out.
    }
  }
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
