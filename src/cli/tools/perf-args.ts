import { readFile } from 'node:fs/promises';
import { parseProperties } from '../../config/properties.js';
import { UsageError, usageExit } from './args.js';

/** Kafka's perf and dump tools exit with 1 on bad arguments (argparse4j and joptsimple both do), not 2. */
export const KAFKA_USAGE_EXIT_CODE = 1;

/** usageExit, with the exit code these Kafka tools give for bad usage. */
export function kafkaUsageExit(tool: string, usage: string, error: unknown): number {
  const code = usageExit(tool, usage, error);
  return code === 0 ? 0 : KAFKA_USAGE_EXIT_CODE;
}

/**
 * Kafka's `--producer-props a=1 b=2` takes every following word up to the next flag (argparse4j's nargs "+"):
 * rewritten here as one `--flag=word` per word, which the common parser takes as a repeated flag.
 */
export function expandMultiValueFlag(argv: readonly string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg !== `--${flag}`) {
      out.push(arg);
      continue;
    }
    let taken = 0;
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      out.push(`--${flag}=${argv[++i]}`);
      taken++;
    }
    if (taken === 0) throw new UsageError(`--${flag} needs at least one key=value`);
  }
  return out;
}

/** Properties from a file (Kafka's --producer.config / --consumer.config), then key=value pairs that win. */
export async function loadProperties(file: string | undefined, pairs: readonly string[]): Promise<Map<string, string>> {
  const properties = new Map<string, string>();
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
    }
    for (const [key, { value }] of parseProperties(text)) properties.set(key, value);
  }
  for (const pair of pairs) {
    const parts = pair.split('=');
    if (parts.length !== 2 || parts[0] === '') throw new UsageError(`Invalid property: ${pair}`);
    properties.set(parts[0]!, parts[1]!);
  }
  return properties;
}

/** Java's %.Nf for the figures the tools print (Infinity and NaN as Java writes them). */
export function fixed(value: number, digits: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  return value.toFixed(digits);
}
