/**
 * Kafka's command-line style for the tools: `--name value` or `--name=value`, switches without a value, and
 * flags that may repeat (--config a=1 --config b=2). Unknown flags are usage errors, as in Kafka's tools.
 */

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type FlagKind = 'switch' | 'value' | 'repeated';

export interface ParsedFlags {
  switches: Set<string>;
  values: Map<string, string>;
  repeated: Map<string, string[]>;
}

export function parseFlags(argv: readonly string[], spec: Readonly<Record<string, FlagKind>>): ParsedFlags {
  const parsed: ParsedFlags = { switches: new Set(), values: new Map(), repeated: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
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
    else {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`--${name} needs a value`);
      value = next;
    }
    if (kind === 'value') parsed.values.set(name, value);
    else parsed.repeated.set(name, [...(parsed.repeated.get(name) ?? []), value]);
  }
  return parsed;
}

/** A flag that must be an integer. */
export function integerFlag(flags: ParsedFlags, name: string): number | undefined {
  const text = flags.values.get(name);
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`--${name} must be an integer, not '${text}'`);
  return Number(text);
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
