/**
 * Kafka's `sasl.jaas.config` values: JAAS login module entries, as Kafka's JaasConfig reads them with Java's
 * StreamTokenizer. One entry is `<LoginModuleClass> <flag> key=value ... ;`, a value a word or a quoted string
 * (double or single quotes, backslash escapes), with // and /* *\/ comments allowed between tokens.
 */

/** A login module entry: its class, its control flag and its options. */
export interface JaasLoginModule {
  loginModule: string;
  controlFlag: 'required' | 'requisite' | 'sufficient' | 'optional';
  options: ReadonlyMap<string, string>;
}

/**
 * A JAAS config that cannot be read. The message never quotes a value: options hold passwords, and the message
 * reaches the log and the start-up error.
 */
export class JaasConfigError extends Error {
  override readonly name = 'JaasConfigError';
}

const CONTROL_FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional']);

type Token = { kind: 'word'; text: string } | { kind: 'quoted'; text: string } | { kind: 'char'; text: string };

/** Characters of an unquoted word (StreamTokenizer's word characters plus the `-`, `_` and `$` Kafka adds). */
const WORD_CHAR = /[A-Za-z0-9_$.\-\u00a0-\uffff]/;

/** Java's escapes inside a quoted string: \b \f \n \r \t, octal \0 to \377, and any other character as itself. */
const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new JaasConfigError('unterminated comment');
      i = end + 2;
    } else if (c === '"' || c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new JaasConfigError('unterminated quoted value');
        const d = text[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d === '\n') throw new JaasConfigError('a quoted value runs past the end of its line');
        if (d !== '\\') {
          value += d;
          i++;
          continue;
        }
        const e = text[i + 1];
        if (e === undefined) throw new JaasConfigError('unterminated quoted value');
        const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
        if (octal) {
          // Java reads three octal digits only when the first is 0 to 3 (at most \377).
          const digits = octal[0].length === 3 && octal[0][0]! > '3' ? octal[0].slice(0, 2) : octal[0];
          value += String.fromCharCode(Number.parseInt(digits, 8));
          i += 1 + digits.length;
        } else {
          value += ESCAPES[e] ?? e;
          i += 2;
        }
      }
      tokens.push({ kind: 'quoted', text: value });
    } else if (WORD_CHAR.test(c)) {
      let j = i;
      while (j < text.length && WORD_CHAR.test(text[j]!)) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j) });
      i = j;
    } else {
      tokens.push({ kind: 'char', text: c });
      i++;
    }
  }
  return tokens;
}

/** Reads every login module entry of a JAAS config value. */
export function parseJaasConfig(text: string): JaasLoginModule[] {
  const tokens = tokenize(text);
  const modules: JaasLoginModule[] = [];
  let i = 0;
  while (i < tokens.length) {
    const module = tokens[i++];
    if (module?.kind !== 'word') throw new JaasConfigError('expected a login module class name');
    const flag = tokens[i++];
    if (flag?.kind !== 'word' || !CONTROL_FLAGS.has(flag.text.toLowerCase()))
      throw new JaasConfigError(
        `login module ${module.text}: expected a control flag (required, requisite, sufficient or optional)`,
      );
    const options = new Map<string, string>();
    for (;;) {
      const t = tokens[i++];
      if (t === undefined) throw new JaasConfigError(`login module ${module.text}: the entry must end with ;`);
      if (t.kind === 'char' && t.text === ';') break;
      if (t.kind !== 'word') throw new JaasConfigError(`login module ${module.text}: expected an option name`);
      const eq = tokens[i++];
      if (eq?.kind !== 'char' || eq.text !== '=')
        throw new JaasConfigError(`login module ${module.text}: option ${t.text} needs =value`);
      const value = tokens[i++];
      if (value?.kind !== 'word' && value?.kind !== 'quoted')
        throw new JaasConfigError(`login module ${module.text}: option ${t.text} has no value`);
      options.set(t.text, value.text);
    }
    modules.push({
      loginModule: module.text,
      controlFlag: flag.text.toLowerCase() as JaasLoginModule['controlFlag'],
      options,
    });
  }
  return modules;
}
