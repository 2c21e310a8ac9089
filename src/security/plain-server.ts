import { createHash, timingSafeEqual } from 'node:crypto';
import { SaslAuthenticationError, type SaslServer } from './sasl-server.js';

/** RFC 4616's separator between authorization id, user name and password. */
const NUL = '\u0000';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Whether two passwords are equal, in time that depends on neither: both are hashed to the same length first,
 * since timingSafeEqual needs equal lengths and comparing lengths would leak the expected one's.
 */
function passwordsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Compared against when the user is unknown, so that an unknown user takes as long as a wrong password. */
const UNKNOWN_USER_PASSWORD = 'unknown user';

/**
 * SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer: one client message `[authzid] NUL authcid NUL passwd`,
 * checked against the users of the listener's PlainLoginModule entry. Kafka's error messages; none of them says
 * whether the user exists.
 */
export class PlainServer implements SaslServer {
  complete = false;
  authorizationId = '';

  constructor(private readonly users: ReadonlyMap<string, string>) {}

  evaluate(response: Buffer): Buffer {
    if (this.complete) throw new SaslAuthenticationError('Authentication failed: PLAIN exchange already complete');
    const tokens = response.toString('utf8').split(NUL);
    if (tokens.length !== 3)
      throw new SaslAuthenticationError(`Invalid SASL/PLAIN response: expected 3 tokens, got ${tokens.length}`);
    const [authorizationId, username, password] = tokens as [string, string, string];
    if (username === '') throw new SaslAuthenticationError('Authentication failed: username not specified');
    if (password === '') throw new SaslAuthenticationError('Authentication failed: password not specified');
    const expected = this.users.get(username);
    const matches = passwordsEqual(password, expected ?? UNKNOWN_USER_PASSWORD);
    if (expected === undefined || !matches)
      throw new SaslAuthenticationError('Authentication failed: Invalid username or password');
    if (authorizationId !== '' && authorizationId !== username)
      throw new SaslAuthenticationError(
        'Authentication failed: Client requested an authorization id that is different from username',
      );
    this.authorizationId = username;
    this.complete = true;
    return Buffer.alloc(0);
  }
}
