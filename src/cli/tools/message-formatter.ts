/**
 * Kafka's DefaultMessageFormatter, the console consumer's output: for each record, the fields asked for by the
 * print.* properties in Kafka's order (timestamp, partition, offset, headers, key, value), separated by
 * key.separator and ended by line.separator. Keys, values and header values are written as their bytes, as
 * Kafka's formatter writes them without a deserializer; a null one as null.literal.
 */

/** A record as the console consumer prints it. */
export interface ConsumedRecord {
  partition: number;
  offset: bigint;
  timestamp: bigint;
  timestampType: 'CreateTime' | 'LogAppendTime';
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[key: string, value: Buffer | null]>;
}

const BOOLEAN_PROPERTIES = [
  'print.timestamp',
  'print.partition',
  'print.offset',
  'print.headers',
  'print.key',
  'print.value',
] as const;
const TEXT_PROPERTIES = ['key.separator', 'line.separator', 'headers.separator', 'null.literal'] as const;

export class MessageFormatter {
  readonly #printTimestamp: boolean;
  readonly #printPartition: boolean;
  readonly #printOffset: boolean;
  readonly #printHeaders: boolean;
  readonly #printKey: boolean;
  readonly #printValue: boolean;
  readonly #keySeparator: Buffer;
  readonly #lineSeparator: Buffer;
  readonly #headersSeparator: Buffer;
  readonly #nullLiteral: Buffer;
  /** Properties given that this formatter does not know (deserializer classes, typos), to be reported. */
  readonly ignored: string[];

  constructor(properties: ReadonlyMap<string, string>) {
    // Kafka reads a boolean property as true only when it says "true", in any case.
    const flag = (name: string, fallback: boolean) => {
      const text = properties.get(name);
      return text === undefined ? fallback : text.trim().toLowerCase() === 'true';
    };
    const bytes = (name: string, fallback: string) => Buffer.from(properties.get(name) ?? fallback, 'utf8');
    this.#printTimestamp = flag('print.timestamp', false);
    this.#printPartition = flag('print.partition', false);
    this.#printOffset = flag('print.offset', false);
    this.#printHeaders = flag('print.headers', false);
    this.#printKey = flag('print.key', false);
    this.#printValue = flag('print.value', true);
    this.#keySeparator = bytes('key.separator', '\t');
    this.#lineSeparator = bytes('line.separator', '\n');
    this.#headersSeparator = bytes('headers.separator', ',');
    this.#nullLiteral = bytes('null.literal', 'null');
    const known = new Set<string>([...BOOLEAN_PROPERTIES, ...TEXT_PROPERTIES]);
    this.ignored = [...properties.keys()].filter((name) => !known.has(name));
  }

  /** One record as the bytes Kafka's formatter writes for it. */
  format(record: ConsumedRecord): Buffer {
    const fields: Buffer[] = [];
    if (this.#printTimestamp) fields.push(Buffer.from(`${record.timestampType}:${record.timestamp}`));
    if (this.#printPartition) fields.push(Buffer.from(`Partition:${record.partition}`));
    if (this.#printOffset) fields.push(Buffer.from(`Offset:${record.offset}`));
    if (this.#printHeaders) fields.push(this.#headers(record.headers));
    if (this.#printKey) fields.push(record.key ?? this.#nullLiteral);
    if (this.#printValue) fields.push(record.value ?? this.#nullLiteral);
    // Every field is followed by key.separator, except the last, which ends the line.
    const parts: Buffer[] = [];
    fields.forEach((field, i) => {
      parts.push(field, i === fields.length - 1 ? this.#lineSeparator : this.#keySeparator);
    });
    return Buffer.concat(parts);
  }

  #headers(headers: ConsumedRecord['headers']): Buffer {
    if (headers.length === 0) return Buffer.from('NO_HEADERS');
    const parts: Buffer[] = [];
    headers.forEach(([key, value], i) => {
      if (i > 0) parts.push(this.#headersSeparator);
      parts.push(Buffer.from(`${key}:`), value ?? this.#nullLiteral);
    });
    return Buffer.concat(parts);
  }
}
