import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import packageRequire from '../package-require.cjs';
import { CompressionError } from './errors.js';

/** Kafka's default zstd level (compression.zstd.level). */
export const ZSTD_DEFAULT_LEVEL = 3;
const ZSTD_MAGIC = 0xfd2fb528;
/** Output room tried first for a frame that does not declare its size; grown up to the caller's limit. */
const UNDECLARED_SIZE_FIRST_GUESS = 1024 * 1024;

// The WebAssembly global of Node.js, which this project's TypeScript libraries (no DOM) do not declare.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => object;
};

/** The parts of @bokuweb/zstd-wasm used here: its Emscripten module object and its one-shot functions. */
interface EmscriptenModule {
  instantiateWasm?: (imports: object, receiveInstance: (instance: object) => unknown) => unknown;
  init(): void;
  calledRun?: boolean;
}
interface ZstdFunctions {
  compress(data: Uint8Array, level: number): Uint8Array;
  decompress(data: Uint8Array, options: { defaultHeapSize: number }): Uint8Array;
}

// Most brokers never see a zstd batch, and the instantiated WebAssembly module (compiled code and its memory)
// costs 8-10 MB of RSS, so it is instantiated on first use. The package's own init() is asynchronous, which a
// codec called from synchronous code cannot wait for; its Emscripten module accepts an instantiateWasm hook, and
// reading and instantiating the file synchronously takes about 5 ms, once. Nothing is done when this module loads:
// an await there (top-level await) would make the package impossible to require() from CommonJS. The package
// (0.0.x, so pinned to one version) exports only its entry point; its module object is that entry's sibling
// file, loaded through the same CommonJS cache.
let zstd: ZstdFunctions | null = null;

function loadZstd(): ZstdFunctions {
  if (zstd) return zstd;
  const packageDir = dirname(packageRequire.resolve('@bokuweb/zstd-wasm'));
  const { Module } = packageRequire(join(packageDir, 'module.js')) as { Module: EmscriptenModule };
  const functions = packageRequire(join(packageDir, 'index.node.js')) as ZstdFunctions;
  const wasmBytes = readFileSync(join(packageDir, 'zstd.wasm'));
  Module.instantiateWasm = (imports, receiveInstance) =>
    receiveInstance(new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), imports));
  Module.init();
  if (!Module.calledRun) throw new Error('the zstd WebAssembly module did not initialise synchronously');
  zstd = functions;
  return zstd;
}

/** The content size a zstd frame header declares, if it declares one (single-segment or FCS field). */
function declaredContentSize(frame: Buffer): number | null {
  if (frame.length < 6 || frame.readUInt32LE(0) !== ZSTD_MAGIC) throw new CompressionError('not a zstd frame');
  const descriptor = frame[4]!;
  const fcsFlag = descriptor >>> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const dictIdBytes = [0, 1, 2, 4][descriptor & 0x03]!;
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return null;
  const at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
  if (at + fcsBytes > frame.length) throw new CompressionError('truncated zstd frame header');
  switch (fcsBytes) {
    case 1:
      return frame[at]!;
    case 2:
      return frame.readUInt16LE(at) + 256;
    case 4:
      return frame.readUInt32LE(at);
    default:
      return Number(frame.readBigUInt64LE(at));
  }
}

export function zstdCompress(data: Buffer, level = ZSTD_DEFAULT_LEVEL): Buffer {
  const out = loadZstd().compress(data, level);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decompresses one frame (or several, back to back) of at most `maxBytes`. A frame written by a streaming
 * compressor need not declare its size: the output room then starts at 1 MiB and grows fourfold, up to
 * `maxBytes`, while the frame does not fit.
 */
export function zstdDecompress(data: Buffer, maxBytes: number): Buffer {
  const declared = declaredContentSize(data);
  if (declared !== null && declared > maxBytes) {
    throw new CompressionError(`zstd frame of ${declared} bytes exceeds the limit of ${maxBytes}`);
  }
  const { decompress } = loadZstd();
  let room = Math.min(UNDECLARED_SIZE_FIRST_GUESS, maxBytes);
  for (;;) {
    try {
      // The room only matters when no size is declared; a declared size is allocated exactly.
      const out = decompress(data, { defaultHeapSize: room });
      if (out.byteLength > maxBytes)
        throw new CompressionError(`zstd data of ${out.byteLength} bytes exceeds the limit of ${maxBytes}`);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      if (e instanceof CompressionError) throw e;
      if (declared !== null || room >= maxBytes) throw new CompressionError(`corrupt zstd frame: ${String(e)}`);
      room = Math.min(room * 4, maxBytes);
    }
  }
}
