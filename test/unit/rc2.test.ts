import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { decryptRc2Block, decryptRc2Cbc, expandRc2Key, RC2_ROTATIONS, Rc2Error } from '../../src/security/rc2.js';

// RC2 encryption, which the broker never does (it only reads old stores): here to check decryption against
// RFC 2268's vectors and OpenSSL's output in both directions.

/** Encrypts one 8-byte block in place (RFC 2268 section 3). */
function encryptRc2Block(k: Uint16Array, block: Buffer, offset = 0): void {
  const r = [0, 1, 2, 3].map((i) => block.readUInt16LE(offset + 2 * i));
  let j = 0;
  const mix = () => {
    for (let i = 0; i < 4; i++) {
      const x = (r[i]! + k[j++]! + (r[(i + 3) & 3]! & r[(i + 2) & 3]!) + (~r[(i + 3) & 3]! & r[(i + 1) & 3]!)) & 0xffff;
      const s = RC2_ROTATIONS[i]!;
      r[i] = ((x << s) | (x >> (16 - s))) & 0xffff;
    }
  };
  const mash = () => {
    for (let i = 0; i < 4; i++) r[i] = (r[i]! + k[r[(i + 3) & 3]! & 63]!) & 0xffff;
  };
  for (let n = 0; n < 5; n++) mix();
  mash();
  for (let n = 0; n < 6; n++) mix();
  mash();
  for (let n = 0; n < 5; n++) mix();
  for (let i = 0; i < 4; i++) block.writeUInt16LE(r[i]!, offset + 2 * i);
}

/** RC2-CBC encryption with PKCS#7 padding. */
function encryptRc2Cbc(key: Buffer, effectiveBits: number, iv: Buffer, plain: Buffer): Buffer {
  if (iv.length !== 8) throw new Rc2Error(`an RC2 IV of ${iv.length} bytes (8)`);
  const k = expandRc2Key(key, effectiveBits);
  const pad = 8 - (plain.length % 8);
  const out = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  let previous: Buffer = iv;
  for (let p = 0; p < out.length; p += 8) {
    for (let i = 0; i < 8; i++) out[p + i]! ^= previous[i]!;
    encryptRc2Block(k, out, p);
    previous = out.subarray(p, p + 8);
  }
  return out;
}

/** RFC 2268 section 5: effective key bits, key, plaintext, ciphertext. */
const VECTORS: Array<[number, string, string, string]> = [
  [63, '0000000000000000', '0000000000000000', 'ebb773f993278eff'],
  [64, 'ffffffffffffffff', 'ffffffffffffffff', '278b27e42e2f0d49'],
  [64, '3000000000000000', '1000000000000001', '30649edf9be7d2c2'],
  [64, '88', '0000000000000000', '61a8a244adacccf0'],
  [64, '88bca90e90875a', '0000000000000000', '6ccf4308974c267f'],
  [64, '88bca90e90875a7f0f79c384627bafb2', '0000000000000000', '1a807d272bbe5db1'],
  [128, '88bca90e90875a7f0f79c384627bafb2', '0000000000000000', '2269552ab0f85ca6'],
  [129, '88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e', '0000000000000000', '5b78d3a43dfff1f1'],
];

test("RC2 blocks: RFC 2268's test vectors encrypt to their ciphertexts and decrypt back", () => {
  for (const [bits, key, plain, cipher] of VECTORS) {
    const k = expandRc2Key(Buffer.from(key, 'hex'), bits);
    const block = Buffer.from(plain, 'hex');
    encryptRc2Block(k, block);
    assert.equal(block.toString('hex'), cipher, `encrypt ${bits} ${key}`);
    decryptRc2Block(k, block);
    assert.equal(block.toString('hex'), plain, `decrypt ${bits} ${key}`);
  }
});

test('RC2-CBC with the effective key bits of PKCS#12 (40 and 128) decrypts what it encrypts; bad input is an Rc2Error', () => {
  for (const [bits, keyBytes] of [
    [40, 5],
    [128, 16],
  ] as const) {
    const key = randomBytes(keyBytes);
    const iv = randomBytes(8);
    for (const size of [0, 1, 7, 8, 9, 100, 4096]) {
      const plain = randomBytes(size);
      const encrypted = encryptRc2Cbc(key, bits, iv, plain);
      assert.equal(encrypted.length, size + 8 - (size % 8));
      assert.deepEqual(decryptRc2Cbc(key, bits, iv, encrypted), plain);
    }
  }
  // CBC chaining: the same block twice encrypts differently, and the IV matters.
  const key = Buffer.from('88bca90e90875a7f0f79c384627bafb2', 'hex');
  const iv = Buffer.alloc(8);
  const twice = encryptRc2Cbc(key, 128, iv, Buffer.alloc(16));
  assert.equal(twice.subarray(0, 8).toString('hex'), '2269552ab0f85ca6');
  assert.notDeepEqual(twice.subarray(0, 8), twice.subarray(8, 16));
  assert.throws(() => decryptRc2Cbc(key, 128, iv, Buffer.alloc(12)), Rc2Error);
  assert.throws(() => decryptRc2Cbc(key, 128, Buffer.alloc(4), Buffer.alloc(8)), Rc2Error);
  assert.throws(() => expandRc2Key(Buffer.alloc(0), 64), Rc2Error);
  assert.throws(() => expandRc2Key(Buffer.alloc(8), 0), Rc2Error);
  // A wrong key almost always leaves bad padding behind.
  const encrypted = encryptRc2Cbc(key, 128, iv, Buffer.from('some certificate bytes'));
  let refused = 0;
  for (let i = 0; i < 20; i++)
    try {
      decryptRc2Cbc(randomBytes(16), 128, iv, encrypted);
    } catch (e) {
      assert.ok(e instanceof Rc2Error);
      refused++;
    }
  assert.ok(refused >= 10, `${refused} of 20 wrong keys refused`);
});

test("RC2-CBC agrees with OpenSSL's legacy rc2-40-cbc and rc2-cbc (made once with openssl enc -provider legacy)", () => {
  // printf 'hello rc2 world, some bytes' | openssl enc -rc2-40-cbc -provider legacy -provider default \
  //   -K 0102030405 -iv 0001020304050607 (and -rc2-cbc -K 000102030405060708090a0b0c0d0e0f)
  const plain = Buffer.from('hello rc2 world, some bytes');
  const iv = Buffer.from('0001020304050607', 'hex');
  for (const [bits, key, encrypted] of [
    [40, '0102030405', '976cb21ca1ce71fed874fdbc00642d4a6c31aa9603daa7e6d9e072703748a8bc'],
    [128, '000102030405060708090a0b0c0d0e0f', '7689fb006339dce2e86d56c0ae1e3f94d35062e6fbac9db6d9ba6de6a4dd963f'],
  ] as const) {
    assert.deepEqual(decryptRc2Cbc(Buffer.from(key, 'hex'), bits, iv, Buffer.from(encrypted, 'hex')), plain);
    assert.equal(encryptRc2Cbc(Buffer.from(key, 'hex'), bits, iv, plain).toString('hex'), encrypted);
  }
});
