/**
 * Kafka's command-line style for the tools: `--name value` or `--name=value`, switches without a value, flags
 * that may repeat (--config a=1 --config b=2), and flags whose value is optional (Kafka's --compression-codec).
 * Unknown flags are usage errors, as in Kafka's tools; --help prints the usage.
 */

/** Bad usage: the tool prints the message and its usage, and exits with USAGE_EXIT_CODE. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** --help was given: the tool prints its usage and exits with 0. */
class HelpRequested extends Error {}

/** Exit codes shared by the tools: 1 for a failure at run time, 2 for bad usage (as POSIX utilities do). */
export const FAILURE_EXIT_CODE = 1;
const USAGE_EXIT_CODE = 2;

/**
 * - `switch`: no value.
 * - `value`: one value; the last one given wins.
 * - `repeated`: one value per occurrence, all kept.
 * - `optional`: a value only when the next word is not a flag; without one the value is the empty string.
 */
export type FlagKind = 'switch' | 'value' | 'repeated' | 'optional';

export interface ParsedFlags {
  switches: Set<string>;
  values: Map<string, string>;
  repeated: Map<string, string[]>;
}

export function parseFlags(argv: readonly string[], spec: Readonly<Record<string, FlagKind>>): ParsedFlags {
  const parsed: ParsedFlags = { switches: new Set(), values: new Map(), repeated: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') throw new HelpRequested();
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'switch') {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      parsed.switches.add(name);
      continue;
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (kind === 'optional') {
      const next = argv[i + 1];
      value = next === undefined || next.startsWith('--') ? '' : argv[++i]!;
    } else {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`--${name} needs a value`);
      value = next;
    }
    if (kind === 'repeated') parsed.repeated.set(name, [...(parsed.repeated.get(name) ?? []), value]);
    else parsed.values.set(name, value);
  }
  return parsed;
}

/**
 * The end of a tool's argument step: prints the usage for --help (exit 0) or with the message of a UsageError
 * (exit 2); anything else is a bug and is thrown on.
 */
export function usageExit(tool: string, usage: string, error: unknown): number {
  if (error instanceof HelpRequested) {
    console.log(usage);
    return 0;
  }
  if (error instanceof UsageError) {
    console.error(`samsa ${tool}: ${error.message}\n\n${usage}`);
    return USAGE_EXIT_CODE;
  }
  throw error;
}

/** A flag that must be an integer, at least `min` when given. */
export function integerFlag(flags: ParsedFlags, name: string, min = Number.MIN_SAFE_INTEGER): number | undefined {
  const text = flags.values.get(name);
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`--${name} must be an integer, not '${text}'`);
  const n = Number(text);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, not ${n}`);
  return n;
}

/** The key=value pairs of a repeated flag (--config, --property, --producer-property), in order. */
export function keyValueFlags(flags: ParsedFlags, name: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of flags.repeated.get(name) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${name} needs key=value, not '${pair}'`);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/** The value of a flag that must be given. */
export function requiredFlag(flags: ParsedFlags, name: string): string {
  const value = flags.values.get(name);
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

/** The bootstrap servers: Kafka's --bootstrap-server (or the older --broker-list), required. */
export function bootstrapServers(flags: ParsedFlags): string[] {
  const text = flags.values.get('bootstrap-server') ?? flags.values.get('broker-list');
  if (!text) throw new UsageError('--bootstrap-server is required');
  return text.split(',').map((s) => s.trim());
}

/** Columns padded like Kafka's tools print them. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 1)))
      .join(' ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
