import fc from 'fast-check';
import type { MessageSchema, SchemaField } from '../../src/protocol/generated/schema.js';

/** Whether `version` is in an inclusive range from the schema (null: never). */
export function inRange(range: [number, number] | null, version: number): boolean {
  return range !== null && version >= range[0] && version <= range[1];
}

/** A field's default value as the codec produces it. */
export function defaultOf(f: SchemaField): unknown {
  if (f.default === null) return null;
  if (f.type.startsWith('[]')) return [];
  if (f.type === 'struct') return structDefault(f.fields ?? []);
  if (f.type === 'int64') return BigInt(f.default as string);
  if (f.type === 'bytes' || f.type === 'records') return Buffer.alloc(0);
  return f.default;
}

function structDefault(fields: SchemaField[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f.name] = defaultOf(f);
  return out;
}

const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'));
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', 'ü€😀', 'topic-1'));
const bytes = fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b));

function primitive(type: string): fc.Arbitrary<unknown> {
  switch (type) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'float64':
      return fc.double();
    case 'string':
      return text;
    case 'uuid':
      return uuid;
    case 'bytes':
    case 'records':
      return bytes;
    default:
      throw new Error(`no arbitrary for ${type}`);
  }
}

function typeArb(f: SchemaField, type: string, version: number, flexible: boolean): fc.Arbitrary<unknown> {
  if (type.startsWith('[]')) return fc.array(typeArb(f, type.slice(2), version, flexible), { maxLength: 3 });
  if (type === 'struct') return structArb(f.fields ?? [], version, flexible);
  return primitive(type);
}

function fieldArb(f: SchemaField, version: number, flexible: boolean): fc.Arbitrary<unknown> {
  const present = inRange(f.versions, version) && (f.tag === null || (flexible && inRange(f.tagged, version)));
  if (!present) return fc.constant(defaultOf(f));
  const value = typeArb(f, f.type, version, flexible);
  return inRange(f.nullable, version) ? fc.option(value, { nil: null, freq: 4 }) : value;
}

/** Unknown tagged fields with tags no known field of the struct uses, in increasing order. */
function unknownTags(fields: SchemaField[]): fc.Arbitrary<Array<{ tag: number; data: Buffer }> | undefined> {
  const known = new Set(fields.filter((f) => f.tag !== null).map((f) => f.tag));
  return fc.option(
    fc
      .uniqueArray(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 3 })
      .chain((tags) => {
        const free = tags.filter((t) => !known.has(t)).sort((a, b) => a - b);
        return fc.tuple(...free.map((tag) => bytes.map((data) => ({ tag, data }))));
      })
      .map((list) => (list.length > 0 ? list : undefined)),
    { nil: undefined, freq: 2 },
  );
}

export function structArb(
  fields: SchemaField[],
  version: number,
  flexible: boolean,
): fc.Arbitrary<Record<string, unknown>> {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of fields) shape[f.name] = fieldArb(f, version, flexible);
  const record = fc.record(shape, { noNullPrototype: true });
  if (!flexible) return record;
  return fc
    .tuple(record, unknownTags(fields))
    .map(([r, unknown]) => (unknown ? { ...r, unknownTaggedFields: unknown } : r));
}

export function messageArb(schema: MessageSchema, version: number): fc.Arbitrary<Record<string, unknown>> {
  return structArb(schema.fields, version, inRange(schema.flexibleVersions, version));
}
