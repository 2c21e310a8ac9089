import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import type { Broker } from '../broker/broker.js';
import { StartupError } from '../broker/startup-error.js';
import { ConfigError, parseBrokerConfig, toBrokerSettings } from '../config/broker-config.js';
import { type MemoryProfile, memoryProfileValues, withMemoryProfile } from '../config/memory-profile.js';
import { parseOverride, parseProperties } from '../config/properties.js';
import { isLogLevel, Logger } from '../observability/logger.js';
import { raiseOpenFilesLimit } from './open-files.js';

const SERVER_USAGE = `usage: samsa server [server.properties] [--override key=value ...]

Starts a broker. The configuration keys are Kafka's; --override sets one after the file. Without a file,
Kafka's defaults apply: listeners=PLAINTEXT://:9092, log.dirs=/tmp/kafka-logs.

environment:
  SAMSA_LOG_LEVEL   debug, info (default), warn or error
  SAMSA_LOG_FORMAT  text (default) or json (one object per line)`;

/**
 * V8 grows its young generation while the broker's modules load (to 8 MB of semi-space) and keeps it until its
 * memory reducer runs, about ten seconds after start-up; held at its initial size while the broker starts, an idle
 * broker is that much smaller. Under load it grows as usual: the factor is V8's default again once started.
 */
const START_UP_SEMI_SPACE_GROWTH_FACTOR = 1;
/** V8's default --semi-space-growth-factor. */
const V8_SEMI_SPACE_GROWTH_FACTOR = 2;

/** Keys that say where clients are sent; overriding listeners alone leaves them as the file has them. */
const ADVERTISING_KEYS = ['advertised.listeners', 'advertised.host.name', 'advertised.port'];

/**
 * `samsa server`: starts a broker from a server.properties file (Kafka's keys) and command-line overrides,
 * and stops it gracefully on SIGTERM or SIGINT: the listener closes, in-flight writes finish, logs are
 * flushed and the clean shutdown marker is written. Signals that come while it stops are ignored (`timeout` and
 * service managers send SIGTERM twice): the stop finishes and leaves the marker. SIGKILL is what ends it at once.
 */
export async function runServer(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(SERVER_USAGE);
    return 0;
  }
  const level = process.env['SAMSA_LOG_LEVEL'] ?? 'info';
  if (!isLogLevel(level)) {
    console.error(`samsa: SAMSA_LOG_LEVEL must be debug, info, warn or error, not '${level}'`);
    return 1;
  }
  const logger = new Logger('broker', {
    level,
    format: process.env['SAMSA_LOG_FORMAT'] === 'json' ? 'json' : 'text',
  });
  const overrides = new Map<string, string>();
  const fromFile = new Map<string, string>();
  let stopped: Promise<void>;
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === '--override') {
        const pair = args[++i];
        if (pair === undefined) throw new ConfigError('--override needs key=value');
        const [key, value] = parseOverride(pair);
        overrides.set(key, value);
      } else if (arg.startsWith('-')) {
        throw new ConfigError(`unknown option ${arg}\n${SERVER_USAGE}`);
      } else {
        for (const [key, { value }] of parseProperties(await readConfigFile(arg))) fromFile.set(key, value);
      }
    }
    const raw = new Map([...fromFile, ...overrides]);
    const { values, warnings, notices } = parseBrokerConfig(raw);
    for (const w of warnings) logger.warn(w);
    for (const n of notices) logger.info(n);
    const settings = toBrokerSettings(values);
    // What the memory profile sets is reported as set (DescribeConfigs), as it is in force.
    settings.staticConfigs = Object.fromEntries(withMemoryProfile(raw));
    applyMemoryProfileFlags(settings.memoryProfile, logger);
    if (overrides.has('listeners') && !ADVERTISING_KEYS.some((k) => overrides.has(k))) {
      const advertising = ADVERTISING_KEYS.filter((k) => fromFile.has(k));
      if (advertising.length > 0)
        logger.warn(
          `listeners is overridden but ${advertising.join(' and ')} comes from the file: clients are still sent there; override it too`,
          {
            advertised: settings.listeners!.map((l) => `${l.name}://${l.advertisedHost}:${l.advertisedPort}`).join(','),
          },
        );
    }
    // Kafka's precedence: the newer key wins; the older one is dropped, which an operator should hear about.
    for (const [newer, older] of [
      ['listeners', ['host.name', 'port']],
      ['advertised.listeners', ['advertised.host.name', 'advertised.port']],
    ] as const) {
      const ignored = older.filter((k) => raw.has(k));
      if (raw.has(newer) && ignored.length > 0) logger.warn(`${ignored.join(' and ')} ignored: ${newer} is set`);
    }
    if (!raw.has('log.dirs') && !raw.has('log.dir'))
      logger.info(`log.dirs is not set: data goes to ${settings.logDirs.join(',')} (Kafka's default)`);
    if (!raw.has('listeners') && !raw.has('port') && !raw.has('host.name'))
      logger.info("listeners is not set: PLAINTEXT://:9092 on every interface (Kafka's default)");
    await raiseOpenFilesLimit(logger, settings.logDirs);
    // Loaded once the memory profile's V8 flags are set, so that they apply to loading the broker's modules too.
    const holdYoungGeneration = !process.execArgv.some((a) => a.startsWith('--semi-space-growth-factor'));
    if (holdYoungGeneration) setFlagsFromString(`--semi-space-growth-factor=${START_UP_SEMI_SPACE_GROWTH_FACTOR}`);
    const { Broker } = await import('../broker/broker.js');
    const broker = new Broker(settings, logger);
    const startup = broker.start();
    stopped = stopOnSignals(logger, broker, startup);
    await startup;
    if (holdYoungGeneration) setFlagsFromString(`--semi-space-growth-factor=${V8_SEMI_SPACE_GROWTH_FACTOR}`);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof StartupError) {
      console.error(`samsa: ${e.message}`);
    } else {
      // An unforeseen failure: one line for the person, the stack for whoever reads debug logs.
      logger.debug('start-up failed', { error: e as Error });
      console.error(`samsa: start-up failed: ${(e as Error).message ?? String(e)}`);
    }
    return 1;
  }
  await stopped;
  return 0;
}

/**
 * The memory profile's V8 flags, set while the process runs (a command-line flag would need a second process):
 * only flags V8 reads as it goes work this way, which the profile's are (measured in bench/memory.ts). A flag the
 * operator gave node on its command line wins.
 */
function applyMemoryProfileFlags(profile: MemoryProfile, logger: Logger): void {
  const { configs, v8Flags: profileFlags } = memoryProfileValues(profile);
  const flagName = (flag: string) => flag.split('=', 1)[0]!.replaceAll('_', '-');
  const given = new Set(process.execArgv.map(flagName));
  const v8Flags = profileFlags.filter((flag) => !given.has(flagName(flag)));
  for (const flag of v8Flags) setFlagsFromString(flag);
  if (profile !== 'default')
    logger.info(`samsa.memory.profile=${profile}`, {
      ...configs,
      ...(v8Flags.length > 0 ? { v8: v8Flags.join(' ') } : {}),
    });
}

/**
 * SIGTERM or SIGINT stops the broker cleanly, once it has started if it is starting. Later signals are logged and
 * ignored, as a JVM running Kafka's shutdown hook ignores them: a second SIGTERM (which `timeout` and service
 * managers send) must not turn a clean stop into a crash. Resolves once the broker has stopped.
 */
function stopOnSignals(logger: Logger, broker: Broker, startup: Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.info('already shutting down: signal ignored (SIGKILL stops at once)', { signal });
        return;
      }
      stopping = true;
      logger.info('shutting down', { signal });
      startup
        .then(() => broker.stop())
        .then(resolve, (error: unknown) => {
          logger.error('shutdown failed', { error: error as Error });
          resolve();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** Reads a server.properties file; a missing or unreadable one is a one-line error naming it. */
async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new ConfigError(`cannot read the configuration file ${path}: ${reason}`);
  }
}
