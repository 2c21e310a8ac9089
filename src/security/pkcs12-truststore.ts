/**
 * The certificates of a PKCS#12 trust store (RFC 7292), as Java's keytool and `openssl pkcs12 -nokeys` write
 * them: Node.js reads PKCS#12 only as a key store (`pfx`, which must hold a private key), so a trust store of
 * certificates alone is read here. The file's integrity is checked with its MAC when a password is given (as Java
 * does; without one it is not checked, Kafka's rule for ssl.truststore.password), and certificate bags encrypted
 * with PBES2 (PBKDF2 with AES or 3DES: what keytool and OpenSSL 3 write) or with PKCS#12's own 3DES scheme are
 * decrypted with node:crypto; those encrypted with PKCS#12's RC2 schemes (OpenSSL 1.x's and old Java's default for
 * certificates, which Node's OpenSSL 3 has only in its legacy provider) with `rc2.ts`.
 *
 * Key stores go to node:tls as `pfx`, but Node's OpenSSL refuses a store with RC2 in it ("Unsupported PKCS12 PFX
 * data"): `readPkcs12KeyStore` reads such a store here too (its shrouded key bag, its certificates) so that the
 * key and its chain can be handed to node:tls as `key` and `cert`.
 */
import {
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  pbkdf2Sync,
  timingSafeEqual,
  X509Certificate,
} from 'node:crypto';
import { decryptRc2Cbc } from './rc2.js';

export class Pkcs12Error extends Error {
  override readonly name = 'Pkcs12Error';
}

/** The object identifiers this reader knows, by their dotted form. */
const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbeWithSha1And3KeyTripleDesCbc: '1.2.840.113549.1.12.1.3',
  pbeWithSha1And40BitRc2Cbc: '1.2.840.113549.1.12.1.6',
  pbeWithSha1And128BitRc2Cbc: '1.2.840.113549.1.12.1.5',
} as const;

/** PBKDF2's pseudo-random functions and PBES2's ciphers, by OID. */
const PRF: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const CIPHERS: Record<string, { name: string; keyLength: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24 },
};
/** The MAC's digests, by OID, with their block sizes for PKCS#12's key derivation. */
const DIGESTS: Record<string, { name: string; blockBytes: number }> = {
  '1.3.14.3.2.26': { name: 'sha1', blockBytes: 64 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', blockBytes: 64 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', blockBytes: 128 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', blockBytes: 128 },
};

/** Limits against a hostile or broken file: nesting depth and key derivation work. */
const MAX_DER_DEPTH = 32;
const MAX_KDF_ITERATIONS = 10_000_000;

interface Der {
  tag: number;
  /** The content octets (for a constructed OCTET STRING, its pieces joined). */
  value: Buffer;
  children: Der[];
  /** The whole element as read, header included. */
  encoded: Buffer;
}

/** Reads one DER/BER element with definite lengths at `offset`; returns it and the offset after it. */
function readDer(buf: Buffer, offset: number, depth: number): { element: Der; next: number } {
  if (depth > MAX_DER_DEPTH) throw new Pkcs12Error('nested too deeply');
  if (offset + 2 > buf.length) throw new Pkcs12Error('truncated');
  const tag = buf[offset]!;
  let length = buf[offset + 1]!;
  let pos = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || pos + bytes > buf.length) throw new Pkcs12Error('unsupported length encoding');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + buf[pos + i]!;
    pos += bytes;
  }
  if (pos + length > buf.length) throw new Pkcs12Error('truncated');
  const value = buf.subarray(pos, pos + length);
  const element: Der = { tag, value, children: [], encoded: buf.subarray(offset, pos + length) };
  if (tag & 0x20) {
    for (let p = 0; p < value.length; ) {
      const child = readDer(value, p, depth + 1);
      element.children.push(child.element);
      p = child.next;
    }
    // BER's constructed OCTET STRING: its content is its pieces.
    if (tag === 0x24) element.value = Buffer.concat(element.children.map((c) => c.value));
  }
  return { element, next: pos + length };
}

function parse(buf: Buffer): Der {
  const { element, next } = readDer(buf, 0, 0);
  if (next !== buf.length) throw new Pkcs12Error('trailing bytes');
  return element;
}

function child(el: Der, i: number): Der {
  const c = el.children[i];
  if (!c) throw new Pkcs12Error('a structure is missing a field');
  return c;
}

function oid(el: Der): string {
  if (el.tag !== 0x06 || el.value.length === 0) throw new Pkcs12Error('expected an object identifier');
  const b = el.value;
  const parts: number[] = [Math.floor(b[0]! / 40), b[0]! % 40];
  let n = 0;
  for (let i = 1; i < b.length; i++) {
    n = n * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  return parts.join('.');
}

function integer(el: Der): number {
  if (el.tag !== 0x02 || el.value.length > 6) throw new Pkcs12Error('expected a small integer');
  return el.value.readUIntBE(0, el.value.length);
}

/** The password as PKCS#12's key derivation takes it: a BMPString (UTF-16BE) with its two-byte terminator. */
function bmpPassword(password: string): Buffer {
  const out = Buffer.alloc((password.length + 1) * 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

/** RFC 7292 appendix B.2: PKCS#12's key derivation (ID 1 keys, 2 IVs, 3 MAC keys). */
function pkcs12Kdf(
  password: Buffer,
  salt: Buffer,
  id: number,
  iterations: number,
  bytes: number,
  digest: string,
  blockBytes: number,
): Buffer {
  if (iterations < 1 || iterations > MAX_KDF_ITERATIONS) throw new Pkcs12Error(`${iterations} iterations`);
  const v = blockBytes;
  const fill = (src: Buffer) => {
    const out = Buffer.alloc(src.length === 0 ? 0 : v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(password)]);
  const out: Buffer[] = [];
  let produced = 0;
  while (produced < bytes) {
    let A = createHash(digest).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(digest).update(A).digest();
    out.push(A);
    produced += A.length;
    if (produced >= bytes) break;
    const B = Buffer.alloc(v);
    for (let i = 0; i < v; i++) B[i] = A[i % A.length]!;
    for (let j = 0; j < I.length; j += v) {
      // I_j = (I_j + B + 1) mod 2^(8v), big-endian.
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, bytes);
}

/**
 * PKCS#12's own password-based schemes (RFC 7292, appendix B): the derived key's length, and the cipher. For RC2
 * the key's length in bits is also its effective key bits.
 */
const PKCS12_PBE_SCHEMES: Record<string, { keyBytes: number; decrypt(key: Buffer, iv: Buffer, data: Buffer): Buffer }> =
  {
    [OID.pbeWithSha1And3KeyTripleDesCbc]: {
      keyBytes: 24,
      decrypt: (key, iv, data) => {
        const d = createDecipheriv('des-ede3-cbc', key, iv);
        return Buffer.concat([d.update(data), d.final()]);
      },
    },
    [OID.pbeWithSha1And40BitRc2Cbc]: { keyBytes: 5, decrypt: (key, iv, data) => decryptRc2Cbc(key, 40, iv, data) },
    [OID.pbeWithSha1And128BitRc2Cbc]: { keyBytes: 16, decrypt: (key, iv, data) => decryptRc2Cbc(key, 128, iv, data) },
  };

function decrypt(algorithm: Der, encrypted: Buffer, password: string | null): Buffer {
  const algOid = oid(child(algorithm, 0));
  if (password === null)
    throw new Pkcs12Error('its certificates are encrypted: set ssl.truststore.password to read them');
  if (algOid === OID.pbes2) {
    const params = child(algorithm, 1);
    const kdf = child(params, 0);
    if (oid(child(kdf, 0)) !== OID.pbkdf2) throw new Pkcs12Error('PBES2 with a key derivation other than PBKDF2');
    const kdfParams = child(kdf, 1);
    const salt = child(kdfParams, 0).value;
    const iterations = integer(child(kdfParams, 1));
    if (iterations < 1 || iterations > MAX_KDF_ITERATIONS) throw new Pkcs12Error(`${iterations} iterations`);
    const prfElement = kdfParams.children.find((c) => c.tag === 0x30);
    const prf = prfElement ? PRF[oid(child(prfElement, 0))] : 'sha1';
    if (!prf) throw new Pkcs12Error('PBKDF2 with an unknown pseudo-random function');
    const scheme = child(params, 1);
    const cipher = CIPHERS[oid(child(scheme, 0))];
    if (!cipher) throw new Pkcs12Error(`PBES2 with an unknown cipher ${oid(child(scheme, 0))}`);
    const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, cipher.keyLength, prf);
    const d = createDecipheriv(cipher.name, key, child(scheme, 1).value);
    return Buffer.concat([d.update(encrypted), d.final()]);
  }
  const scheme = PKCS12_PBE_SCHEMES[algOid];
  if (scheme !== undefined) {
    const params = child(algorithm, 1);
    const salt = child(params, 0).value;
    const iterations = integer(child(params, 1));
    const pw = bmpPassword(password);
    const key = pkcs12Kdf(pw, salt, 1, iterations, scheme.keyBytes, 'sha1', 64);
    const iv = pkcs12Kdf(pw, salt, 2, iterations, 8, 'sha1', 64);
    return scheme.decrypt(key, iv, encrypted);
  }
  throw new Pkcs12Error(`its contents are encrypted with an unknown algorithm ${algOid}`);
}

/** Checks the store's MAC (its password and integrity); throws when it does not match. */
function checkMac(macData: Der, authSafe: Buffer, password: string): void {
  const digestInfo = child(macData, 0);
  const digest = DIGESTS[oid(child(child(digestInfo, 0), 0))];
  if (!digest) throw new Pkcs12Error('its MAC uses an unknown digest');
  const expected = child(digestInfo, 1).value;
  const salt = child(macData, 1).value;
  const iterations = macData.children[2] ? integer(macData.children[2]) : 1;
  const keyBytes = createHash(digest.name).digest().length;
  const key = pkcs12Kdf(bmpPassword(password), salt, 3, iterations, keyBytes, digest.name, digest.blockBytes);
  const actual = createHmac(digest.name, key).update(authSafe).digest();
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected))
    throw new Pkcs12Error('the password is wrong or the file is damaged (its MAC does not match)');
}

/** What a store's bags hold: certificates (PEM) and private keys (PKCS#8 DER, decrypted). */
interface Bags {
  certificates: string[];
  keys: Buffer[];
}

function readBags(safeContents: Buffer, out: Bags, keyPassword: string | null): void {
  for (const bag of parse(safeContents).children) {
    const type = oid(child(bag, 0));
    if (type === OID.certBag) {
      const certBag = child(child(bag, 1), 0);
      if (oid(child(certBag, 0)) !== OID.x509Certificate) continue;
      const der = child(child(certBag, 1), 0).value;
      try {
        out.certificates.push(new X509Certificate(der).toString());
      } catch (e) {
        throw new Pkcs12Error(`a certificate in it cannot be read: ${(e as Error).message}`);
      }
    } else if (type === OID.keyBag) {
      out.keys.push(child(child(bag, 1), 0).encoded);
    } else if (type === OID.pkcs8ShroudedKeyBag && keyPassword !== null) {
      // EncryptedPrivateKeyInfo: the algorithm and the encrypted PKCS#8 PrivateKeyInfo.
      const info = child(child(bag, 1), 0);
      let plain: Buffer;
      try {
        plain = decrypt(child(info, 0), child(info, 1).value, keyPassword);
      } catch (e) {
        if (e instanceof Pkcs12Error) throw e;
        throw new Pkcs12Error('its private key cannot be decrypted: the key password is wrong');
      }
      out.keys.push(plain);
    }
  }
}

/**
 * Reads a store's bags. `password` checks the MAC and decrypts encrypted contents (null: neither);
 * `keyPassword` decrypts shrouded key bags (null: they are skipped).
 */
function readStore(file: Buffer, password: string | null, keyPassword: string | null): Bags {
  const pfx = parse(file);
  if (integer(child(pfx, 0)) !== 3) throw new Pkcs12Error('not a PKCS#12 version 3 file');
  const authSafeInfo = child(pfx, 1);
  if (oid(child(authSafeInfo, 0)) !== OID.data)
    throw new Pkcs12Error('signed (public-key integrity) PKCS#12 files are not read');
  const authSafe = child(child(authSafeInfo, 1), 0).value;
  const macData = pfx.children[2];
  if (macData && password !== null) checkMac(macData, authSafe, password);
  const bags: Bags = { certificates: [], keys: [] };
  for (const info of parse(authSafe).children) {
    const type = oid(child(info, 0));
    if (type === OID.data) readBags(child(child(info, 1), 0).value, bags, keyPassword);
    else if (type === OID.encryptedData) {
      const encryptedContentInfo = child(child(child(info, 1), 0), 1);
      const encrypted = encryptedContentInfo.children[2];
      if (!encrypted) continue;
      let plain: Buffer;
      try {
        plain = decrypt(child(encryptedContentInfo, 1), encrypted.value, password);
      } catch (e) {
        if (e instanceof Pkcs12Error) throw e;
        throw new Pkcs12Error('its certificates cannot be decrypted: the password is wrong');
      }
      readBags(plain, bags, keyPassword);
    }
  }
  return bags;
}

/**
 * The certificates of a PKCS#12 trust store, as PEM. `password` null: the MAC is not checked, and certificates
 * that are encrypted cannot be read.
 */
export function readPkcs12Certificates(file: Buffer, password: string | null): string[] {
  const { certificates } = readStore(file, password, null);
  if (certificates.length === 0) throw new Pkcs12Error('it holds no certificate');
  return certificates;
}

/** A PKCS#12 key store's private key and its certificate chain, as node:tls takes them (`key`, `cert`), in PEM. */
export interface Pkcs12KeyStore {
  key: string;
  /** The key's certificate first, then the store's other certificates (its chain). */
  cert: string;
}

/**
 * A PKCS#12 key store's one private key and its certificates, for a store node:tls refuses as `pfx` (RC2 inside).
 * `password` is the store's (its MAC and encrypted certificates); `keyPassword` decrypts the private key.
 */
export function readPkcs12KeyStore(file: Buffer, password: string, keyPassword: string): Pkcs12KeyStore {
  const { certificates, keys } = readStore(file, password, keyPassword);
  if (keys.length === 0) throw new Pkcs12Error('it holds no private key');
  if (keys.length > 1) throw new Pkcs12Error(`it holds ${keys.length} private keys; a key store for TLS holds one`);
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey({ key: keys[0]!, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new Pkcs12Error(`its private key cannot be read: ${(e as Error).message}`);
  }
  const leaf = certificates.findIndex((pem) => new X509Certificate(pem).checkPrivateKey(key));
  if (leaf < 0) throw new Pkcs12Error('it holds no certificate for its private key');
  const chain = [certificates[leaf]!, ...certificates.filter((_, i) => i !== leaf)];
  return { key: key.export({ format: 'pem', type: 'pkcs8' }).toString(), cert: chain.join('') };
}
