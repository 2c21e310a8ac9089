import { resolve } from 'node:path';
import { REPLICA_SELECTOR_CLASSES, type ReplicaSelectorClass } from '../cluster/replica-selector.js';
import { AUTHORIZER_CLASS_NAMES, parseSuperUsers } from '../security/authorizer.js';
import { JaasConfigError, parseJaasConfig } from '../security/jaas-config.js';
import { OAUTHBEARER_VALIDATOR_CLASSES, resolveListenerSasl, SaslConfigError } from '../security/sasl-config.js';
import { resolveListenerSsl, SslConfigError } from '../security/ssl-config.js';
import type {
  AuthorizerSettings,
  BrokerSettings,
  EtcdSettings,
  InterBrokerSaslMechanism,
  InterBrokerSettings,
  ListenerSettings,
} from './broker-settings.js';
import { defaultBrokerSettings } from './broker-settings.js';
import { MEMORY_PROFILES, type MemoryProfile, withMemoryProfile } from './memory-profile.js';
import { configValueError, LONG_MAX_TEXT, TOPIC_CONFIGS } from './topic-config.js';

/** Raised for an invalid configuration value: start-up stops with a message naming the key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Type = 'int' | 'long' | 'boolean' | 'string' | 'list';

export interface Definition {
  type: Type;
  /** Kafka's default, as text; undefined when Kafka has none (the key is optional). */
  default?: string;
  /** Smallest allowed value for numbers. */
  atLeast?: number;
  /** Allowed values for strings. */
  oneOf?: readonly string[];
}

/** Kafka's security protocols, each served (SASL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512). */
const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
/** Kafka's default listener.security.protocol.map: each protocol's name is a listener name. */
const DEFAULT_PROTOCOL_MAP = SECURITY_PROTOCOLS.map((p) => `${p}:${p}`).join(',');
/** Settings that configure TLS or SASL (also per listener, `listener.name.<name>.ssl.*`). */
export const SECURITY_KEY = /^(listener\.name\.[^.]+\.)?(ssl|sasl)\./;

/**
 * The broker configs Samsa acts on, with Kafka's names, types and defaults. Those with no default are optional;
 * their fallbacks (listeners for advertised.listeners, log.retention.hours under .minutes and .ms, ...) are
 * applied in `toBrokerSettings` as Kafka applies them.
 */
export const BROKER_CONFIGS: Readonly<Record<string, Definition>> = {
  'node.id': { type: 'int', atLeast: -1 },
  'broker.id': { type: 'int', default: '-1', atLeast: -1 },
  /** Unset: one PLAINTEXT listener on host.name and port, as in Kafka 0.10 (see `resolveListeners`). */
  listeners: { type: 'list' },
  'advertised.listeners': { type: 'list' },
  /** Kafka 0.10's keys, used while listeners / advertised.listeners are not set. */
  'host.name': { type: 'string', default: '' },
  port: { type: 'int', default: '9092', atLeast: 0 },
  'advertised.host.name': { type: 'string' },
  'advertised.port': { type: 'int', atLeast: 0 },
  'listener.security.protocol.map': { type: 'list', default: DEFAULT_PROTOCOL_MAP },
  'security.inter.broker.protocol': { type: 'string', default: 'PLAINTEXT', oneOf: SECURITY_PROTOCOLS },
  /** The listener brokers reach each other on; unset, the one named by security.inter.broker.protocol. */
  'inter.broker.listener.name': { type: 'string' },
  /** Kafka's authorizers (see security/authorizer.ts AUTHORIZER_CLASS_NAMES) turn on Samsa's; empty: none. */
  'authorizer.class.name': { type: 'string', default: '' },
  /** Principals allowed everything by the authorizer, separated by semicolons (`User:admin;User:ops`). */
  'super.users': { type: 'string', default: '' },
  'allow.everyone.if.no.acl.found': { type: 'boolean', default: 'false' },
  'log.dirs': { type: 'list' },
  'log.dir': { type: 'string', default: '/tmp/kafka-logs' },
  'num.partitions': { type: 'int', default: '1', atLeast: 1 },
  'default.replication.factor': { type: 'int', default: '1', atLeast: 1 },
  'auto.create.topics.enable': { type: 'boolean', default: 'true' },
  'delete.topic.enable': { type: 'boolean', default: 'true' },
  'message.max.bytes': { type: 'int', default: '1048588', atLeast: 0 },
  'socket.request.max.bytes': { type: 'int', default: '104857600', atLeast: 1 },
  'connections.max.idle.ms': { type: 'long', default: '600000' },
  'fetch.max.bytes': { type: 'int', default: '57671680', atLeast: 1024 },
  /**
   * Kafka's default is -1 (no bound). Samsa bounds it by default, at the size of the largest request
   * (socket.request.max.bytes), so that request memory stays near 200 MiB at worst (see docs/ARCHITECTURE.md).
   */
  'queued.max.request.bytes': { type: 'long', default: '104857600' },
  'max.connections': { type: 'int', default: '2147483647', atLeast: 0 },
  'max.connection.creation.rate': { type: 'int', default: '2147483647', atLeast: 0 },
  'max.connections.per.ip': { type: 'int', default: '2147483647', atLeast: 0 },
  'max.connections.per.ip.overrides': { type: 'string', default: '' },
  'log.segment.bytes': { type: 'int', default: '1073741824', atLeast: 14 },
  'log.roll.ms': { type: 'long', atLeast: 1 },
  'log.roll.hours': { type: 'int', default: '168', atLeast: 1 },
  'log.retention.ms': { type: 'long', atLeast: -1 },
  'log.retention.minutes': { type: 'int' },
  'log.retention.hours': { type: 'int', default: '168' },
  'log.retention.bytes': { type: 'long', default: '-1' },
  'log.retention.check.interval.ms': { type: 'long', default: '300000', atLeast: 1 },
  'log.index.interval.bytes': { type: 'int', default: '4096', atLeast: 0 },
  'log.index.size.max.bytes': { type: 'int', default: '10485760', atLeast: 4 },
  'log.flush.interval.messages': { type: 'long', default: LONG_MAX_TEXT, atLeast: 1 },
  'log.flush.interval.ms': { type: 'long' },
  'log.flush.scheduler.interval.ms': { type: 'long', default: LONG_MAX_TEXT },
  'log.message.timestamp.type': { type: 'string', default: 'CreateTime', oneOf: ['CreateTime', 'LogAppendTime'] },
  'log.cleaner.enable': { type: 'boolean', default: 'true' },
  'log.cleaner.backoff.ms': { type: 'long', default: '15000', atLeast: 0 },
  'log.cleanup.policy': { type: 'list', default: 'delete', oneOf: TOPIC_CONFIGS['cleanup.policy']!.oneOf },
  'compression.type': { type: 'string', default: 'producer', oneOf: TOPIC_CONFIGS['compression.type']!.oneOf },
  'min.insync.replicas': { type: 'int', default: '1', atLeast: 1 },
  /** Read as text by the controller, per topic (its override first): a live replica outside the ISR may lead. */
  'unclean.leader.election.enable': { type: 'boolean', default: 'false' },
  'auto.leader.rebalance.enable': { type: 'boolean', default: 'true' },
  'leader.imbalance.check.interval.seconds': { type: 'long', default: '300', atLeast: 1 },
  'leader.imbalance.per.broker.percentage': { type: 'int', default: '10', atLeast: 0 },
  'replica.lag.time.max.ms': { type: 'long', default: '30000', atLeast: 1 },
  'replica.fetch.max.bytes': { type: 'int', default: '1048576', atLeast: 0 },
  'replica.fetch.response.max.bytes': { type: 'int', default: '10485760', atLeast: 0 },
  'replica.fetch.wait.max.ms': { type: 'int', default: '500', atLeast: 0 },
  'replica.fetch.min.bytes': { type: 'int', default: '1', atLeast: 1 },
  'replica.fetch.backoff.ms': { type: 'int', default: '1000', atLeast: 0 },
  'num.replica.fetchers': { type: 'int', default: '1', atLeast: 1 },
  // KIP-73: the windows the replication quotas measure their byte rates over.
  'replication.quota.window.num': { type: 'int', default: '11', atLeast: 1 },
  'replication.quota.window.size.seconds': { type: 'int', default: '1', atLeast: 1 },
  // KIP-392: unset (Kafka's default) is the leader selector.
  'replica.selector.class': { type: 'string', default: '', oneOf: REPLICA_SELECTOR_CLASSES },
  'offsets.topic.num.partitions': { type: 'int', default: '50', atLeast: 1 },
  'offsets.topic.replication.factor': { type: 'int', default: '3', atLeast: 1 },
  'transaction.state.log.num.partitions': { type: 'int', default: '50', atLeast: 1 },
  'transaction.state.log.replication.factor': { type: 'int', default: '3', atLeast: 1 },
  /** A cluster setting for `__transaction_state`; one broker has one replica (see docs/ARCHITECTURE.md). */
  'transaction.state.log.min.isr': { type: 'int', default: '2', atLeast: 1 },
  'transaction.max.timeout.ms': { type: 'int', default: '900000', atLeast: 1 },
  'transactional.id.expiration.ms': { type: 'int', default: '604800000', atLeast: 1 },
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': { type: 'int', default: '10000', atLeast: 1 },
  'transaction.remove.expired.transaction.cleanup.interval.ms': { type: 'int', default: '3600000', atLeast: 1 },
  'group.initial.rebalance.delay.ms': { type: 'int', default: '3000', atLeast: 0 },
  'group.min.session.timeout.ms': { type: 'int', default: '6000', atLeast: 0 },
  'group.max.session.timeout.ms': { type: 'int', default: '1800000', atLeast: 0 },
  'group.max.size': { type: 'int', default: '2147483647', atLeast: 1 },
  'group.consumer.heartbeat.interval.ms': { type: 'int', default: '5000', atLeast: 1 },
  'group.consumer.session.timeout.ms': { type: 'int', default: '45000', atLeast: 1 },
  'group.consumer.max.size': { type: 'int', default: '2147483647', atLeast: 1 },
  /**
   * Online migration of groups with members between the classic and the consumer protocol is not built: only
   * Kafka's `disabled` policy is accepted, and it is Samsa's default (see docs/ARCHITECTURE.md).
   */
  'group.consumer.migration.policy': { type: 'string', default: 'disabled', oneOf: ['disabled'] },
  'offsets.retention.minutes': { type: 'int', default: '10080', atLeast: 1 },
  'offsets.retention.check.interval.ms': { type: 'long', default: '600000', atLeast: 1 },
  'offset.metadata.max.bytes': { type: 'int', default: '4096', atLeast: 0 },
  'producer.id.expiration.ms': { type: 'int', default: '86400000', atLeast: 1 },
  'producer.id.expiration.check.interval.ms': { type: 'int', default: '600000', atLeast: 1 },
  /** Samsa's own: whether acks=all waits for fsync (see docs/ARCHITECTURE.md, fsync policy). */
  'samsa.log.flush.on.acks.all': { type: 'boolean', default: 'true' },
  /** Samsa's own: sizes caches and pools for the machine (config/memory-profile.ts): `default` or `small`. */
  'samsa.memory.profile': { type: 'string', default: 'default', oneOf: MEMORY_PROFILES },
  /**
   * Samsa's own: memory for the recent batches of all partitions, served to tailing consumers. 16 MiB: 32 MiB cost
   * 15-30 MB more RSS under load for no throughput or CPU measured (docs/PERFORMANCE.md, Memory).
   */
  'samsa.log.tail.cache.bytes': { type: 'long', default: '16777216', atLeast: 0 },
  /** Samsa's own: memory kept for reuse by large segment reads (catching-up consumers), for the whole process. */
  'samsa.log.read.buffer.pool.bytes': { type: 'long', default: '67108864', atLeast: 0 },
  /**
   * Samsa's own (Kafka's KIP-578 `max.broker.partitions` never shipped): the partitions this broker may host; -1
   * derives it from the open-files limit (see broker/partition-limit.ts).
   */
  'samsa.max.broker.partitions': { type: 'int', default: '-1', atLeast: -1 },
  /** Samsa's own: `host:port` of the HTTP listener serving /metrics and /health/*; unset, none. */
  'samsa.http.listener': { type: 'string' },
  /** Samsa's own: the web console on samsa.http.listener refuses every change (403) when true. */
  'samsa.console.read.only': { type: 'boolean', default: 'false' },
  /**
   * Samsa's own: host names the web console answers to besides IP addresses, localhost, this machine's name and
   * the advertised hosts (a guard against DNS rebinding).
   */
  'samsa.console.allowed.hosts': { type: 'list' },
  /** Samsa's own: where the cluster metadata lives, `embedded` (one broker, in the first log dir) or `etcd`. */
  'samsa.metadata.store': { type: 'string', default: 'embedded', oneOf: ['embedded', 'etcd'] },
  /** Samsa's own: the etcd client URLs, `http://host:port,...`, with samsa.metadata.store=etcd. */
  'samsa.etcd.endpoints': { type: 'list' },
  /** Samsa's own: every key of this cluster in etcd is under this prefix; clusters sharing an etcd each set their own. */
  'samsa.etcd.prefix': { type: 'string', default: '/samsa' },
  /** broker.rack: the rack this broker is in, registered with it and given in Metadata responses. */
  'broker.rack': { type: 'string' },
  /** With samsa.metadata.store=etcd: the lease of the broker's registration (Kafka's KRaft default, 9 s). */
  'broker.session.timeout.ms': { type: 'int', default: '9000', atLeast: 1000 },
};

/** Kafka keys accepted without effect here (threads, ZooKeeper/KRaft plumbing); start-up notes them once. */
export const IGNORED_KAFKA_CONFIGS: ReadonlySet<string> = new Set([
  'num.network.threads',
  'num.io.threads',
  'num.recovery.threads.per.data.dir',
  'socket.send.buffer.bytes',
  'socket.receive.buffer.bytes',
  'zookeeper.connection.timeout.ms',
  'process.roles',
  'controller.quorum.voters',
  'controller.quorum.bootstrap.servers',
  'controller.listener.names',
  // One cleaner runs in the broker's event loop, a partition at a time.
  'log.cleaner.threads',
]);

export type ConfigValue = number | boolean | string | string[];

export interface ParsedConfig {
  values: Map<string, ConfigValue>;
  warnings: string[];
  /** What an operator coming from Kafka should know, logged at INFO. */
  notices: string[];
}

/** TLS settings (also per listener, `listener.name.<name>.ssl.*`), read as text by resolveListenerSsl. */
export const SSL_KEY = /^(listener\.name\.[^.]+\.)?ssl\./;
/**
 * SASL settings, read as text by resolveListenerSasl: `sasl.*`, `listener.name.<name>.sasl.*` and the JAAS
 * entries `listener.name.<name>.<mechanism>.sasl.jaas.config`.
 */
export const SASL_KEY = /^(listener\.name\.[^.]+\.([^.]+\.)?)?sasl\./;
/** KIP-368's session limit, broker-wide or per listener and mechanism, read as text by resolveListenerSasl. */
/** A listener's own connection limits (Kafka's listener-prefixed max.connections and KIP-612's rate). */
export const LISTENER_CONNECTION_KEY = /^listener\.name\.([^.]+)\.(max\.connections|max\.connection\.creation\.rate)$/;
export const REAUTH_KEY = /^(listener\.name\.[^.]+\.[^.]+\.)?connections\.max\.reauth\.ms$/;
/**
 * SASL settings naming Java classes that would decide who authenticates: Samsa cannot load them, and serving
 * without them would authenticate otherwise than configured.
 */
const SASL_CLASS_KEY = /(^|\.)sasl\.(server\.callback\.handler\.class|server\.authn\.class|login\.class)$/;
/** The listener's OAUTHBEARER validator: Kafka's own validator classes are served (see resolveListenerSasl). */
const OAUTHBEARER_HANDLER_KEY = /^listener\.name\.[^.]+\.oauthbearer\.sasl\.server\.callback\.handler\.class$/;
/** Keys whose values are secrets (JAAS entries hold passwords): an error or a log line names the key only. */
const SECRET_KEY = /(^|\.)(sasl\.jaas\.config|password)$/;

/**
 * Keys whose presence asks for security Samsa does not have (an authorizer class other than Kafka's own, SASL
 * callback classes other than Kafka's OAUTHBEARER validators); naming one stops start-up. GSSAPI is refused where
 * a listener enables it (see resolveListenerSasl).
 */
function securityRefusal(key: string, value: string): string | null {
  if (OAUTHBEARER_HANDLER_KEY.test(key) && Object.hasOwn(OAUTHBEARER_VALIDATOR_CLASSES, value.trim())) return null;
  if (key === 'authorizer.class.name' && value.trim() !== '' && !AUTHORIZER_CLASS_NAMES.has(value.trim()))
    return `authorizer.class.name=${value} is not an authorizer Samsa has: it runs Kafka's ACL rules for ${[...AUTHORIZER_CLASS_NAMES].join(', ')}, and will not run a broker less secure than its configuration says`;
  const asks = SASL_CLASS_KEY.test(key) || (SECURITY_KEY.test(key) && !SSL_KEY.test(key) && !SASL_KEY.test(key));
  if (!asks) return null;
  const shown = SECRET_KEY.test(key) ? key : `${key}=${value}`;
  return `${shown} asks for security Samsa does not have yet (no GSSAPI, no SASL callback classes other than Kafka's OAUTHBEARER validators): it will not run a broker less secure than its configuration says`;
}

/** The authorizer's settings when authorizer.class.name names one of Kafka's; null without an authorizer. */
function parseAuthorizerSettings(
  get: <T extends ConfigValue>(key: string) => T | undefined,
): AuthorizerSettings | null {
  if (get<string>('authorizer.class.name')!.trim() === '') return null;
  try {
    return {
      superUsers: parseSuperUsers(get<string>('super.users')!),
      allowEveryoneIfNoAclFound: get<boolean>('allow.everyone.if.no.acl.found')!,
    };
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** Checks a value with the rules topic configs use (`configValueError`), then gives it its type. */
function parseValue(key: string, def: Definition, raw: string): ConfigValue {
  const error = configValueError(key, { kind: def.type, atLeast: def.atLeast, oneOf: def.oneOf }, raw);
  if (error) throw new ConfigError(error);
  const text = raw.trim();
  switch (def.type) {
    case 'boolean':
      return text.toLowerCase() === 'true';
    case 'int':
    case 'long': {
      if (text === LONG_MAX_TEXT) return Number.POSITIVE_INFINITY;
      const n = Number(text);
      // Inside the broker numbers are doubles: a long beyond 2^53 (other than "never") cannot be honoured.
      if (!Number.isSafeInteger(n))
        throw new ConfigError(`Invalid value ${raw} for configuration ${key}: out of the supported range`);
      return n;
    }
    case 'list':
      return text === '' ? [] : text.split(',').map((x) => x.trim());
    case 'string':
      return text;
  }
}

/** Types and checks every key; an invalid value throws ConfigError, an unknown key is a warning. */
export function parseBrokerConfig(written: Map<string, string>): ParsedConfig {
  // The memory profile's configs count as written where the file leaves them unset.
  const raw = withMemoryProfile(written);
  const values = new Map<string, ConfigValue>();
  const warnings: string[] = [];
  const notices: string[] = [];
  for (const [key, def] of Object.entries(BROKER_CONFIGS)) {
    if (def.default !== undefined) values.set(key, parseValue(key, def, def.default));
  }
  // Kafka's rule: the inter-broker listener is named one way or the other, never both.
  if (raw.has('inter.broker.listener.name') && raw.has('security.inter.broker.protocol'))
    throw new ConfigError('Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.');
  for (const [key, text] of raw) {
    const refusal = securityRefusal(key, text);
    if (refusal) throw new ConfigError(refusal);
    const def = BROKER_CONFIGS[key];
    if (def) values.set(key, parseValue(key, def, text));
    else if (SSL_KEY.test(key) || SASL_KEY.test(key) || REAUTH_KEY.test(key)) values.set(key, text);
    else if (LISTENER_CONNECTION_KEY.test(key)) values.set(key, parseValue(key, { type: 'int', atLeast: 1 }, text));
    else if (key === 'zookeeper.connect')
      notices.push(
        'zookeeper.connect is not used: a single broker keeps its metadata embedded; for a cluster set samsa.metadata.store=etcd and samsa.etcd.endpoints=http://host:port,...',
      );
    else if (IGNORED_KAFKA_CONFIGS.has(key)) warnings.push(`${key} is accepted but has no effect in Samsa`);
    else warnings.push(`unknown configuration ${key} ignored`);
  }
  // Set explicitly, security.inter.broker.protocol must name a listener even where no peer needs it (its default
  // may name none on the embedded store: see resolveInterBroker).
  const protocol = raw.get('security.inter.broker.protocol')?.trim().toUpperCase();
  if (protocol !== undefined) {
    const listeners = values.get('listeners') as string[] | undefined;
    const names = listeners ? listeners.map((l) => parseListener(l, 'listeners').name) : ['PLAINTEXT'];
    if (!names.includes(protocol))
      throw new ConfigError(missingInterBrokerListener('security.inter.broker.protocol', protocol, names));
  }
  return { values, warnings, notices };
}

function missingInterBrokerListener(key: string, name: string, names: readonly string[]): string {
  return `${key}=${name}: inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are ${names.join(',')}`;
}

interface Endpoint {
  name: string;
  host: string;
  port: number;
}

/** `NAME://host:port`, with an empty host meaning every interface. Names are upper case, as Kafka makes them. */
export function parseListener(text: string, key: string): Endpoint {
  const m = /^([A-Za-z0-9_]+):\/\/(\[[^\]]*\]|[^:]*):(\d+)$/.exec(text);
  if (!m || Number(m[3]) > MAX_PORT)
    throw new ConfigError(`Invalid value ${JSON.stringify(text)} for configuration ${key}: expected NAME://host:port`);
  return { name: m[1]!.toUpperCase(), host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) };
}

const MAX_PORT = 65535;

/** samsa.etcd.endpoints and samsa.etcd.prefix, with samsa.metadata.store=etcd. */
function parseEtcdSettings(get: <T extends ConfigValue>(key: string) => T | undefined): EtcdSettings {
  const endpoints = get<string[]>('samsa.etcd.endpoints') ?? [];
  if (endpoints.length === 0)
    throw new ConfigError(
      'samsa.metadata.store=etcd needs samsa.etcd.endpoints=http://host:port,... (etcd client URLs)',
    );
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/]+$/.test(e))
      throw new ConfigError(`Invalid value ${JSON.stringify(e)} in samsa.etcd.endpoints: expected http://host:port`);
  }
  const prefix = get<string>('samsa.etcd.prefix')!;
  if (!prefix.startsWith('/') || prefix.endsWith('/'))
    throw new ConfigError(
      `Invalid value ${JSON.stringify(prefix)} for samsa.etcd.prefix: expected /name (no trailing /)`,
    );
  return { endpoints, prefix, sessionTimeoutMs: get<number>('broker.session.timeout.ms')! };
}

/** samsa.http.listener: `host:port` (an IPv6 host in brackets; an empty host binds every interface). */
export function parseHttpListener(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(text.trim());
  if (!m || Number(m[2]) > MAX_PORT)
    throw new ConfigError(
      `Invalid value ${JSON.stringify(text)} for configuration samsa.http.listener: expected host:port`,
    );
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
/** Addresses that bind every interface but that no client can connect to. */
const NON_ROUTABLE = new Set(['0.0.0.0', '::']);

/** listener.security.protocol.map: `NAME:PROTOCOL,...`. */
function parseProtocolMap(entries: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of entries) {
    const [name, protocol, ...rest] = entry.split(':').map((x) => x.trim());
    if (!name || !protocol || rest.length > 0 || !(SECURITY_PROTOCOLS as readonly string[]).includes(protocol))
      throw new ConfigError(
        `Invalid value ${JSON.stringify(entry)} for configuration listener.security.protocol.map: expected NAME:PROTOCOL with PROTOCOL one of ${SECURITY_PROTOCOLS.join(', ')}`,
      );
    map.set(name.toUpperCase(), protocol);
  }
  return map;
}

/**
 * Kafka's rules for the listeners and what each advertises. Binding: `listeners`, else Kafka 0.10's
 * `PLAINTEXT://host.name:port`. Advertising: `advertised.listeners` by listener name, else Kafka 0.10's
 * `PLAINTEXT://advertised.host.name:advertised.port` (each falling back to host.name and port), else each
 * listener's own address. Every listener must map to a protocol; SSL and SASL_SSL listeners get their TLS
 * settings, SASL_PLAINTEXT and SASL_SSL ones their SASL mechanisms, or start-up stops.
 */
export function resolveListeners(values: Map<string, ConfigValue>): ListenerSettings[] {
  const get = <T extends ConfigValue>(key: string) => values.get(key) as T | undefined;
  const protocols = parseProtocolMap(get<string[]>('listener.security.protocol.map') ?? []);
  const hostName = get<string>('host.name') ?? '';
  const port = get<number>('port') ?? 9092;
  const configured = get<string[]>('listeners');
  const listeners =
    configured === undefined
      ? [{ name: 'PLAINTEXT', host: hostName, port }]
      : configured.map((l) => parseListener(l, 'listeners'));
  if (listeners.length === 0) throw new ConfigError('listeners must name at least one listener');
  const names = new Set<string>();
  const ports = new Set<number>();
  for (const l of listeners) {
    if (names.has(l.name)) throw new ConfigError(`listeners: each listener must have a different name (${l.name})`);
    // Port 0 (any free port) may repeat: each listener gets its own.
    if (l.port !== 0 && ports.has(l.port))
      throw new ConfigError(`listeners: each listener must have a different port (${l.port})`);
    names.add(l.name);
    ports.add(l.port);
    const protocol = protocols.get(l.name);
    if (!protocol)
      throw new ConfigError(
        `listeners: no security protocol for listener ${l.name}; map it in listener.security.protocol.map (for example ${l.name}:PLAINTEXT)`,
      );
  }

  const advertised = new Map<string, Endpoint>();
  const advertisedList = get<string[]>('advertised.listeners');
  const advertisedHostName = get<string>('advertised.host.name');
  const advertisedPort = get<number>('advertised.port');
  if (advertisedList !== undefined) {
    for (const a of advertisedList.map((l) => parseListener(l, 'advertised.listeners'))) advertised.set(a.name, a);
  } else if (advertisedHostName !== undefined || advertisedPort !== undefined) {
    advertised.set('PLAINTEXT', {
      name: 'PLAINTEXT',
      host: advertisedHostName ?? hostName,
      port: advertisedPort ?? port,
    });
  }
  for (const name of advertised.keys()) {
    if (!names.has(name))
      throw new ConfigError(
        `advertised.listeners: listener ${name} is not in listeners (${[...names].join(', ')}); advertised listeners must be a subset of them`,
      );
  }
  return listeners.map((l) => {
    const a = advertised.get(l.name) ?? l;
    if (NON_ROUTABLE.has(a.host))
      throw new ConfigError(
        `advertised.listeners cannot use the nonroutable meta-address ${a.host} (listener ${l.name}); set advertised.listeners to an address clients can reach`,
      );
    const protocol = protocols.get(l.name)!;
    const endpoint: ListenerSettings = {
      name: l.name,
      host: l.host,
      port: l.port,
      advertisedHost: a.host,
      advertisedPort: a.port,
    };
    const prefix = `listener.name.${l.name.toLowerCase()}.`;
    const maxConnections = get<number>(`${prefix}max.connections`);
    if (maxConnections !== undefined) endpoint.maxConnections = maxConnections;
    const maxConnectionCreationRate = get<number>(`${prefix}max.connection.creation.rate`);
    if (maxConnectionCreationRate !== undefined) endpoint.maxConnectionCreationRate = maxConnectionCreationRate;
    try {
      if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL')
        endpoint.sasl = resolveListenerSasl(l.name, (key) => get<string>(key));
      if (protocol === 'SSL' || protocol === 'SASL_SSL')
        endpoint.ssl = resolveListenerSsl(l.name, (key) => get<string>(key));
    } catch (e) {
      if (e instanceof SslConfigError || e instanceof SaslConfigError) throw new ConfigError(e.message);
      throw e;
    }
    return endpoint;
  });
}

/** The mechanisms a broker can authenticate to another with (GSSAPI and OAUTHBEARER need token machinery). */
const INTER_BROKER_SASL_MECHANISMS: readonly InterBrokerSaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/**
 * Kafka's inter-broker listener: `inter.broker.listener.name`, else the listener named after
 * `security.inter.broker.protocol` (PLAINTEXT by default), which must be one of the listeners. On the embedded
 * store (one broker, no peers) the default naming no listener is not an error: there is nobody to reach, and a
 * single broker with only TLS or SASL listeners keeps starting as it did (Kafka refuses it). Either key set
 * explicitly must name a listener (checked in parseBrokerConfig, which sees what was written). The
 * listener's TLS is verified as Kafka's client verifies it (ssl.endpoint.identification.algorithm, https by
 * default), and a SASL listener needs `sasl.mechanism.inter.broker.protocol` among its enabled mechanisms and
 * this broker's username and password in that mechanism's JAAS entry.
 */
export function resolveInterBroker(
  values: Map<string, ConfigValue>,
  listeners: readonly ListenerSettings[],
  peersExist: boolean,
): InterBrokerSettings | null {
  const get = (key: string) => values.get(key) as string | undefined;
  const byName = get('inter.broker.listener.name')?.trim();
  const key = byName ? 'inter.broker.listener.name' : 'security.inter.broker.protocol';
  const name = (byName || get('security.inter.broker.protocol') || 'PLAINTEXT').toUpperCase();
  const listener = listeners.find((l) => l.name === name);
  if (!listener) {
    if (!byName && !peersExist) return null;
    throw new ConfigError(
      missingInterBrokerListener(
        key,
        name,
        listeners.map((l) => l.name),
      ),
    );
  }
  const settings: InterBrokerSettings = { listenerName: name };
  const prefix = `listener.name.${name.toLowerCase()}.`;
  if (listener.ssl) {
    const identificationKey = `${prefix}ssl.endpoint.identification.algorithm`;
    const identification = (get(identificationKey) ?? get('ssl.endpoint.identification.algorithm') ?? 'https')
      .trim()
      .toLowerCase();
    if (identification !== '' && identification !== 'https')
      throw new ConfigError(
        `ssl.endpoint.identification.algorithm=${identification}: expected https or an empty value (no host name check)`,
      );
    settings.tls = { checkHostName: identification === 'https' };
  }
  if (listener.sasl) {
    const mechanismKey = 'sasl.mechanism.inter.broker.protocol';
    const written = get(mechanismKey)?.trim();
    const mechanism = (written || 'GSSAPI').toUpperCase();
    if (mechanism === 'GSSAPI')
      throw new ConfigError(
        `${mechanismKey}=GSSAPI${written ? '' : " (Kafka's default)"}: GSSAPI is not supported; set ${mechanismKey} to ${INTER_BROKER_SASL_MECHANISMS.join(', ')} for the SASL inter-broker listener ${name}`,
      );
    if (!(INTER_BROKER_SASL_MECHANISMS as readonly string[]).includes(mechanism))
      throw new ConfigError(
        `${mechanismKey}=${mechanism}: a broker authenticates to another with ${INTER_BROKER_SASL_MECHANISMS.join(', ')}`,
      );
    if (!(listener.sasl.enabledMechanisms as readonly string[]).includes(mechanism))
      throw new ConfigError(
        `${mechanismKey}=${mechanism} must be included in sasl.enabled.mechanisms of listener ${name} when SASL is used for inter-broker communication`,
      );
    // The JAAS entry was read and checked with the listener's SASL settings; here its client options matter.
    const jaasKey = `${prefix}${mechanism.toLowerCase()}.sasl.jaas.config`;
    let options: ReadonlyMap<string, string>;
    try {
      options = parseJaasConfig(get(jaasKey) ?? '')[0]?.options ?? new Map();
    } catch (e) {
      if (e instanceof JaasConfigError) throw new ConfigError(`${jaasKey}: ${e.message}`);
      throw e;
    }
    const username = options.get('username');
    const password = options.get('password');
    if (username === undefined || password === undefined)
      throw new ConfigError(
        `${jaasKey}: the inter-broker listener's entry needs the options username and password (what this broker authenticates to the others with)`,
      );
    settings.sasl = { mechanism: mechanism as InterBrokerSaslMechanism, username, password };
  }
  return settings;
}

/** Resolves Kafka's configs into the broker's settings, applying Kafka's fallbacks and precedence. */
export function toBrokerSettings(values: Map<string, ConfigValue>): BrokerSettings {
  const get = <T extends ConfigValue>(key: string) => values.get(key) as T | undefined;
  const defaults = defaultBrokerSettings();

  const nodeId = get<number>('node.id');
  const brokerId = get<number>('broker.id') ?? -1;
  if (nodeId !== undefined && brokerId !== -1 && nodeId !== brokerId) {
    throw new ConfigError(`node.id (${nodeId}) and broker.id (${brokerId}) must be equal when both are set`);
  }
  const id = nodeId ?? (brokerId === -1 ? 0 : brokerId);

  const listeners = resolveListeners(values);
  const first = listeners[0]!;

  const retentionMs =
    get<number>('log.retention.ms') ??
    (get<number>('log.retention.minutes') !== undefined
      ? get<number>('log.retention.minutes')! * 60_000
      : get<number>('log.retention.hours')! * 3_600_000);
  const rollMs = get<number>('log.roll.ms') ?? get<number>('log.roll.hours')! * 3_600_000;
  // Relative directories are relative to the working directory, as in Kafka; the broker reports them absolute.
  const logDirs = (get<string[]>('log.dirs') ?? [get<string>('log.dir')!]).map((dir) => resolve(dir));
  if (logDirs.length === 0) throw new ConfigError('log.dirs must name at least one directory');

  return {
    ...defaults,
    nodeId: id,
    host: first.host,
    port: first.port,
    advertisedHost: first.advertisedHost,
    advertisedPort: first.advertisedPort,
    listeners,
    interBroker: resolveInterBroker(values, listeners, get<string>('samsa.metadata.store') === 'etcd'),
    logDirs,
    numPartitions: get<number>('num.partitions')!,
    defaultReplicationFactor: get<number>('default.replication.factor')!,
    autoCreateTopicsEnable: get<boolean>('auto.create.topics.enable')!,
    deleteTopicEnable: get<boolean>('delete.topic.enable')!,
    messageMaxBytes: get<number>('message.max.bytes')!,
    socketRequestMaxBytes: get<number>('socket.request.max.bytes')!,
    connectionsMaxIdleMs: get<number>('connections.max.idle.ms')!,
    fetchMaxBytes: get<number>('fetch.max.bytes')!,
    queuedMaxRequestBytes: get<number>('queued.max.request.bytes')!,
    maxConnections: Math.min(get<number>('max.connections')!, defaults.maxConnections),
    maxConnectionCreationRate: get<number>('max.connection.creation.rate')!,
    maxConnectionsPerIp: get<number>('max.connections.per.ip')!,
    maxConnectionsPerIpOverrides: parseMaxConnectionsPerIpOverrides(get<string>('max.connections.per.ip.overrides')!),
    logDefaults: {
      segmentBytes: get<number>('log.segment.bytes')!,
      segmentMs: rollMs,
      retentionMs: retentionMs < 0 ? -1 : retentionMs,
      retentionBytes: get<number>('log.retention.bytes')!,
      indexIntervalBytes: get<number>('log.index.interval.bytes')!,
      flushMessages: get<number>('log.flush.interval.messages')!,
    },
    logRetentionCheckIntervalMs: get<number>('log.retention.check.interval.ms')!,
    logCleanerEnable: get<boolean>('log.cleaner.enable')!,
    logCleanerBackoffMs: get<number>('log.cleaner.backoff.ms')!,
    logFlushIntervalMs: get<number>('log.flush.interval.ms') ?? get<number>('log.flush.scheduler.interval.ms')!,
    flushOnAcksAll: get<boolean>('samsa.log.flush.on.acks.all')!,
    logMessageTimestampType: get<string>('log.message.timestamp.type') as BrokerSettings['logMessageTimestampType'],
    minInsyncReplicas: get<number>('min.insync.replicas')!,
    autoLeaderRebalanceEnable: get<boolean>('auto.leader.rebalance.enable')!,
    leaderImbalanceCheckIntervalSeconds: get<number>('leader.imbalance.check.interval.seconds')!,
    leaderImbalancePerBrokerPercentage: get<number>('leader.imbalance.per.broker.percentage')!,
    replication: {
      replicaLagTimeMaxMs: get<number>('replica.lag.time.max.ms')!,
      replicaFetchMaxBytes: get<number>('replica.fetch.max.bytes')!,
      replicaFetchResponseMaxBytes: get<number>('replica.fetch.response.max.bytes')!,
      replicaFetchWaitMaxMs: get<number>('replica.fetch.wait.max.ms')!,
      replicaFetchMinBytes: get<number>('replica.fetch.min.bytes')!,
      replicaFetchBackoffMs: get<number>('replica.fetch.backoff.ms')!,
      numReplicaFetchers: get<number>('num.replica.fetchers')!,
      replicaSelector: get<ReplicaSelectorClass>('replica.selector.class')!,
      replicationQuotaWindowNum: get<number>('replication.quota.window.num')!,
      replicationQuotaWindowSizeSeconds: get<number>('replication.quota.window.size.seconds')!,
      leaderReplicationThrottledRate: Number.POSITIVE_INFINITY,
      followerReplicationThrottledRate: Number.POSITIVE_INFINITY,
    },
    tailCacheBytes: get<number>('samsa.log.tail.cache.bytes')!,
    readBufferPoolBytes: get<number>('samsa.log.read.buffer.pool.bytes')!,
    memoryProfile: get<string>('samsa.memory.profile') as MemoryProfile,
    ...(get<number>('samsa.max.broker.partitions')! >= 0
      ? { maxBrokerPartitions: get<number>('samsa.max.broker.partitions')! }
      : {}),
    ...(get<string>('samsa.http.listener')
      ? { httpListener: parseHttpListener(get<string>('samsa.http.listener')!) }
      : {}),
    ...(get<boolean>('samsa.console.read.only') ? { consoleReadOnly: true } : {}),
    ...(get<string[]>('samsa.console.allowed.hosts')?.length
      ? { consoleAllowedHosts: get<string[]>('samsa.console.allowed.hosts')! }
      : {}),
    ...(get<string>('broker.rack') ? { rack: get<string>('broker.rack')! } : {}),
    ...(get<string>('samsa.metadata.store') === 'etcd' ? { etcd: parseEtcdSettings(get) } : {}),
    authorizer: parseAuthorizerSettings(get),
    producerIdExpirationMs: get<number>('producer.id.expiration.ms')!,
    producerIdExpirationCheckIntervalMs: get<number>('producer.id.expiration.check.interval.ms')!,
    transactions: {
      stateLogNumPartitions: get<number>('transaction.state.log.num.partitions')!,
      stateLogReplicationFactor: get<number>('transaction.state.log.replication.factor')!,
      maxTimeoutMs: get<number>('transaction.max.timeout.ms')!,
      transactionalIdExpirationMs: get<number>('transactional.id.expiration.ms')!,
      abortTimedOutIntervalMs: get<number>('transaction.abort.timed.out.transaction.cleanup.interval.ms')!,
      removeExpiredIntervalMs: get<number>('transaction.remove.expired.transaction.cleanup.interval.ms')!,
    },
    groups: {
      offsetsTopicNumPartitions: get<number>('offsets.topic.num.partitions')!,
      offsetsTopicReplicationFactor: get<number>('offsets.topic.replication.factor')!,
      initialRebalanceDelayMs: get<number>('group.initial.rebalance.delay.ms')!,
      minSessionTimeoutMs: get<number>('group.min.session.timeout.ms')!,
      maxSessionTimeoutMs: get<number>('group.max.session.timeout.ms')!,
      maxSize: get<number>('group.max.size')!,
      offsetsRetentionMs: get<number>('offsets.retention.minutes')! * 60_000,
      offsetsRetentionCheckIntervalMs: get<number>('offsets.retention.check.interval.ms')!,
      offsetMetadataMaxBytes: get<number>('offset.metadata.max.bytes')!,
      consumerHeartbeatIntervalMs: get<number>('group.consumer.heartbeat.interval.ms')!,
      consumerSessionTimeoutMs: get<number>('group.consumer.session.timeout.ms')!,
      consumerMaxSize: get<number>('group.consumer.max.size')!,
    },
  };
}

/**
 * max.connections.per.ip.overrides: `address:count` pairs separated by commas (the last colon separates the
 * count, so IPv6 addresses need no brackets), as Kafka's. Addresses are matched as written: host names are not
 * resolved.
 */
export function parseMaxConnectionsPerIpOverrides(text: string): Map<string, number> {
  const overrides = new Map<string, number>();
  for (const entry of text.split(',')) {
    const item = entry.trim();
    if (item === '') continue;
    const colon = item.lastIndexOf(':');
    const count = Number(item.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(count) || count < 0)
      throw new ConfigError(
        `Invalid value ${JSON.stringify(text)} for configuration max.connections.per.ip.overrides: expected address:count,...`,
      );
    overrides.set(item.slice(0, colon).replace(/^\[|\]$/g, ''), count);
  }
  return overrides;
}
