/** How the message browser shows keys, values and header values. */
export type DisplayFormat = 'text' | 'json' | 'hex';

export const DISPLAY_FORMATS: readonly DisplayFormat[] = ['text', 'json', 'hex'];

/** Bytes shown of one key, value or header value unless the page asks for another limit. */
export const DEFAULT_SHOWN_BYTES = 4096;
/** The most bytes a page may ask to see of one key, value or header value. */
export const MAX_SHOWN_BYTES = 1024 * 1024;

/** A key, value or header value as the browser shows it. */
export interface ShownBytes {
  /** The bytes in the format asked for; null for a null key or value. */
  shown: string | null;
  /** The size of the whole field in bytes (0 for null). */
  size: number;
  /** Whether only the first `maxBytes` bytes are shown. */
  truncated: boolean;
  /** The format used: `json` falls back to `text` for bytes that are not JSON (or are cut off). */
  format: DisplayFormat;
}

/**
 * `bytes` in `format`, at most `maxBytes` of them. JSON is pretty-printed only when the whole field fits and
 * parses; otherwise it is shown as text, saying so, since a cut-off document is not JSON.
 */
export function showBytes(bytes: Buffer | null, format: DisplayFormat, maxBytes: number): ShownBytes {
  if (bytes === null) return { shown: null, size: 0, truncated: false, format };
  const truncated = bytes.length > maxBytes;
  const part = truncated ? bytes.subarray(0, maxBytes) : bytes;
  if (format === 'hex') return { shown: hex(part), size: bytes.length, truncated, format };
  if (format === 'json' && !truncated) {
    try {
      return {
        shown: JSON.stringify(JSON.parse(part.toString('utf8')), null, 2),
        size: bytes.length,
        truncated,
        format,
      };
    } catch {
      // not JSON: shown as text below
    }
  }
  return { shown: part.toString('utf8'), size: bytes.length, truncated, format: 'text' };
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** Bytes as pairs of hex digits, a space between bytes: written into one buffer, a page can hold megabytes. */
function hex(bytes: Buffer): string {
  if (bytes.length === 0) return '';
  const out = Buffer.allocUnsafe(bytes.length * 3 - 1);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out[i * 3] = HEX_DIGITS[b >> 4]!;
    out[i * 3 + 1] = HEX_DIGITS[b & 15]!;
    if (i > 0) out[i * 3 - 1] = 0x20;
  }
  return out.toString('latin1');
}
