/**
 * Java .properties files, as Kafka reads server.properties: `#` and `!` comments, `key=value`, `key: value`
 * or `key value`, backslash line continuations, and the escapes \t \n \r \f \\ \uXXXX. The last occurrence
 * of a key wins.
 */
export interface PropertyValue {
  value: string;
  line: number;
}

function unescapeProperty(text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
    if (e.length === 5) return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    return { t: '\t', n: '\n', r: '\r', f: '\f' }[e] ?? e;
  });
}

/** Whether a line ends with an odd number of backslashes (a continuation). */
function continues(line: string): boolean {
  let n = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

export function parseProperties(text: string): Map<string, PropertyValue> {
  const out = new Map<string, PropertyValue>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (continues(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    }
    // The key ends at the first unescaped '=', ':' or whitespace.
    let k = 0;
    while (k < line.length && !/[=:\s]/.test(line[k]!)) k += line[k] === '\\' ? 2 : 1;
    const key = unescapeProperty(line.slice(0, k));
    let rest = line.slice(k).replace(/^[ \t\f]+/, '');
    if (rest.startsWith('=') || rest.startsWith(':')) rest = rest.slice(1).replace(/^[ \t\f]+/, '');
    out.set(key, { value: unescapeProperty(rest), line: lineNo });
  }
  return out;
}

/** `key=value` pairs from the command line (`--override key=value`). */
export function parseOverride(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new Error(`--override expects key=value, got '${text}'`);
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}
