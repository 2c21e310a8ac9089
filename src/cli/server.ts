import { readFile } from 'node:fs/promises';
import { Broker } from '../broker/broker.js';
import { ConfigError, parseBrokerConfig, toBrokerSettings } from '../config/broker-config.js';
import { parseOverride, parseProperties } from '../config/properties.js';
import { isLogLevel, Logger } from '../observability/logger.js';

const SERVER_USAGE = 'usage: samsa server [server.properties] [--override key=value ...]';

/**
 * `samsa server`: starts a broker from a server.properties file (Kafka's keys) and command-line overrides,
 * and stops it gracefully on SIGTERM or SIGINT: the listener closes, in-flight writes finish, logs are
 * flushed and the clean shutdown marker is written.
 */
export async function runServer(args: string[]): Promise<number> {
  const level = process.env['SAMSA_LOG_LEVEL'] ?? 'info';
  if (!isLogLevel(level)) {
    console.error(`samsa: SAMSA_LOG_LEVEL must be debug, info, warn or error, not '${level}'`);
    return 1;
  }
  const logger = new Logger('broker', {
    level,
    format: process.env['SAMSA_LOG_FORMAT'] === 'json' ? 'json' : 'text',
  });
  const raw = new Map<string, string>();
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === '--override') {
        const pair = args[++i];
        if (pair === undefined) throw new ConfigError('--override needs key=value');
        const [key, value] = parseOverride(pair);
        raw.set(key, value);
      } else if (arg.startsWith('-')) {
        throw new ConfigError(`unknown option ${arg}\n${SERVER_USAGE}`);
      } else {
        for (const [key, { value }] of parseProperties(await readFile(arg, 'utf8')))
          if (!raw.has(key)) raw.set(key, value);
      }
    }
    const { values, warnings } = parseBrokerConfig(raw);
    for (const w of warnings) logger.warn(w);
    const settings = toBrokerSettings(values);
    settings.staticConfigs = Object.fromEntries(raw);
    const broker = new Broker(settings, logger);
    await broker.start();
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info('shutting down', { signal });
        broker.stop().then(resolve, (error: unknown) => {
          logger.error('shutdown failed', { error: error as Error });
          resolve();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    return 0;
  } catch (e) {
    if (e instanceof ConfigError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`samsa: ${(e as Error).message}`);
      return 1;
    }
    logger.error('start-up failed', { error: e as Error });
    return 1;
  }
}
