import type { X509Certificate } from 'node:crypto';

/** Kafka's principal of a connection that has not authenticated (PLAINTEXT, or SSL without a client certificate). */
export const ANONYMOUS_PRINCIPAL = 'User:ANONYMOUS';

/** Thrown when ssl.principal.mapping.rules is malformed, or when no rule matches a distinguished name. */
export class PrincipalMappingError extends Error {
  override readonly name = 'PrincipalMappingError';
}

/** Characters RFC 2253 escapes with a backslash inside an attribute value. */
const RFC2253_SPECIAL = /[,+"\\<>;]/g;

/**
 * The subject of a certificate in RFC 2253 form, as Java's X500Principal.getName() gives it to Kafka: the
 * relative distinguished names from the last to the first, joined by commas (`CN=client,OU=eng,O=Acme,C=US`).
 * Node lists them first to last, one per line.
 */
export function rfc2253Subject(certificate: X509Certificate): string {
  const lines = certificate.subject.split('\n').filter((l) => l.length > 0);
  return lines
    .reverse()
    .map((line) => {
      const eq = line.indexOf('=');
      const type = line.slice(0, eq);
      let value = line.slice(eq + 1).replace(RFC2253_SPECIAL, (c) => `\\${c}`);
      if (value.startsWith(' ') || value.startsWith('#')) value = `\\${value}`;
      if (value.endsWith(' ')) value = `${value.slice(0, -1)}\\ `;
      return `${type}=${value}`;
    })
    .join(',');
}

type Rule =
  | { kind: 'default' }
  | { kind: 'rule'; pattern: RegExp; replacement: string; toLowerCase: boolean; toUpperCase: boolean };

/**
 * One entry of ssl.principal.mapping.rules, as Kafka's SslPrincipalMapper reads them: `DEFAULT`, or
 * `RULE:pattern/replacement/` with an optional `L` or `U` after the last slash. A slash inside the pattern or
 * the replacement is written `\/`.
 */
const RULE_PATTERN = /\s*(?:(DEFAULT)|RULE:((?:\\\/|[^/])*)\/((?:\\\/|[^/])*)\/([LU]?))\s*(?:,|$)/y;

/** Kafka's replacement syntax is Java's: `$1` for a group, `\$` for a dollar; JavaScript's needs `$$` for one. */
function javaReplacementToJs(replacement: string): string {
  let out = '';
  for (let i = 0; i < replacement.length; i++) {
    const c = replacement[i]!;
    if (c === '\\' && i + 1 < replacement.length) {
      const next = replacement[++i]!;
      out += next === '$' ? '$$' : next;
    } else out += c;
  }
  return out;
}

/**
 * ssl.principal.mapping.rules: turns the distinguished name of a client certificate into a user name. The first
 * rule whose pattern matches the whole name gives the result; `DEFAULT` gives the name unchanged; a name no rule
 * matches fails the connection's authentication, as in Kafka.
 */
export class SslPrincipalMapper {
  private readonly rules: Rule[];

  constructor(rulesText: string) {
    this.rules = SslPrincipalMapper.parse(rulesText);
  }

  static parse(rulesText: string): Rule[] {
    const text = rulesText.trim();
    if (text === '') throw new PrincipalMappingError('ssl.principal.mapping.rules must name at least one rule');
    const rules: Rule[] = [];
    RULE_PATTERN.lastIndex = 0;
    while (RULE_PATTERN.lastIndex < text.length) {
      const at = RULE_PATTERN.lastIndex;
      const m = RULE_PATTERN.exec(text);
      if (!m || m[0].length === 0)
        throw new PrincipalMappingError(
          `Invalid rule in ssl.principal.mapping.rules at ${JSON.stringify(text.slice(at))}: expected DEFAULT or RULE:pattern/replacement/[LU]`,
        );
      if (m[1]) rules.push({ kind: 'default' });
      else {
        const source = m[2]!.replaceAll('\\/', '/');
        let pattern: RegExp;
        try {
          pattern = new RegExp(`^(?:${source})$`);
        } catch (e) {
          throw new PrincipalMappingError(
            `Invalid pattern ${JSON.stringify(source)} in ssl.principal.mapping.rules: ${(e as Error).message}`,
          );
        }
        rules.push({
          kind: 'rule',
          pattern,
          replacement: javaReplacementToJs(m[3]!.replaceAll('\\/', '/')),
          toLowerCase: m[4] === 'L',
          toUpperCase: m[4] === 'U',
        });
      }
    }
    return rules;
  }

  /** The user name for a distinguished name; throws PrincipalMappingError when no rule applies. */
  getName(distinguishedName: string): string {
    for (const rule of this.rules) {
      if (rule.kind === 'default') return distinguishedName;
      if (!rule.pattern.test(distinguishedName)) continue;
      let name = distinguishedName.replace(rule.pattern, rule.replacement);
      if (rule.toLowerCase) name = name.toLowerCase();
      else if (rule.toUpperCase) name = name.toUpperCase();
      return name;
    }
    throw new PrincipalMappingError(`No rule of ssl.principal.mapping.rules applies to ${distinguishedName}`);
  }
}
