/**
 * RC2 (RFC 2268) in CBC mode, for the PKCS#12 stores that OpenSSL 1.x and old JDKs wrote: their certificate bags
 * are encrypted with pbeWithSHAAnd40BitRC2-CBC (or its 128-bit sibling), and Node's OpenSSL 3 has RC2 only in its
 * legacy provider, which Node does not load. Only stores read at start-up go through here, a few kilobytes: the
 * cipher is written for clarity, not speed. RC2 is broken as a cipher; it is read here so that old stores keep
 * working, never used to write.
 */

/** RFC 2268's PITABLE: a permutation of 0..255 derived from the digits of pi. */
const PITABLE = Buffer.from(
  'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2' +
    '179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82' +
    '54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
    '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7' +
    '08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec' +
    'c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
    '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9' +
    '0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad',
  'hex',
);

export class Rc2Error extends Error {
  override readonly name = 'Rc2Error';
}

/** RFC 2268 section 2: the 64 16-bit subkeys of a key of 1 to 128 bytes, with `effectiveBits` (1 to 1024). */
export function expandRc2Key(key: Buffer, effectiveBits: number): Uint16Array {
  const t = key.length;
  if (t < 1 || t > 128) throw new Rc2Error(`an RC2 key of ${t} bytes (1 to 128)`);
  if (!Number.isInteger(effectiveBits) || effectiveBits < 1 || effectiveBits > 1024)
    throw new Rc2Error(`${effectiveBits} effective key bits (1 to 1024)`);
  const l = new Uint8Array(128);
  l.set(key);
  for (let i = t; i < 128; i++) l[i] = PITABLE[(l[i - 1]! + l[i - t]!) & 0xff]!;
  const t8 = Math.ceil(effectiveBits / 8);
  const tm = 0xff >> (8 * t8 - effectiveBits);
  l[128 - t8] = PITABLE[l[128 - t8]! & tm]!;
  for (let i = 127 - t8; i >= 0; i--) l[i] = PITABLE[l[i + 1]! ^ l[i + t8]!]!;
  const k = new Uint16Array(64);
  for (let i = 0; i < 64; i++) k[i] = l[2 * i]! | (l[2 * i + 1]! << 8);
  return k;
}

/** The rotations of a MIX round's four words (RFC 2268 section 3.2). */
export const RC2_ROTATIONS = [1, 2, 3, 5] as const;

/** Decrypts one 8-byte block in place (RFC 2268 section 4). */
export function decryptRc2Block(k: Uint16Array, block: Buffer, offset = 0): void {
  const r = [0, 1, 2, 3].map((i) => block.readUInt16LE(offset + 2 * i));
  let j = 63;
  const mix = () => {
    for (let i = 3; i >= 0; i--) {
      const s = RC2_ROTATIONS[i]!;
      const x = r[i]!;
      const rotated = ((x >> s) | (x << (16 - s))) & 0xffff;
      r[i] = (rotated - k[j--]! - (r[(i + 3) & 3]! & r[(i + 2) & 3]!) - (~r[(i + 3) & 3]! & r[(i + 1) & 3]!)) & 0xffff;
    }
  };
  const mash = () => {
    for (let i = 3; i >= 0; i--) r[i] = (r[i]! - k[r[(i + 3) & 3]! & 63]!) & 0xffff;
  };
  for (let n = 0; n < 5; n++) mix();
  mash();
  for (let n = 0; n < 6; n++) mix();
  mash();
  for (let n = 0; n < 5; n++) mix();
  for (let i = 0; i < 4; i++) block.writeUInt16LE(r[i]!, offset + 2 * i);
}

/** RC2-CBC decryption with PKCS#7 padding removed, as PKCS#12's RC2 schemes use it. */
export function decryptRc2Cbc(key: Buffer, effectiveBits: number, iv: Buffer, encrypted: Buffer): Buffer {
  if (iv.length !== 8) throw new Rc2Error(`an RC2 IV of ${iv.length} bytes (8)`);
  if (encrypted.length === 0 || encrypted.length % 8 !== 0)
    throw new Rc2Error(`RC2-CBC data of ${encrypted.length} bytes (a multiple of 8)`);
  const k = expandRc2Key(key, effectiveBits);
  const out = Buffer.from(encrypted);
  for (let p = 0; p < out.length; p += 8) {
    decryptRc2Block(k, out, p);
    const previous = p === 0 ? iv : encrypted.subarray(p - 8, p);
    for (let i = 0; i < 8; i++) out[p + i]! ^= previous[i]!;
  }
  const pad = out[out.length - 1]!;
  if (pad < 1 || pad > 8) throw new Rc2Error('bad padding');
  for (let i = out.length - pad; i < out.length; i++) if (out[i] !== pad) throw new Rc2Error('bad padding');
  return out.subarray(0, out.length - pad);
}
