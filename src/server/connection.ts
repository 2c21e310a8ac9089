import type { Socket } from 'node:net';
import { ANONYMOUS_PRINCIPAL } from '../security/principal.js';
import { SASL_MAX_RECEIVE_BYTES, type SaslAuthentication } from '../security/sasl-server.js';
import { type PoolMember, RequestMemoryPool } from './request-memory-pool.js';

/** Bytes of the size prefix of every Kafka request and response. */
export const FRAME_SIZE_BYTES = 4;
/**
 * Requests of one connection being processed at once; past this the connection stops being read. Generous,
 * because a client sending many small produce requests gets them into one group commit only if they are read:
 * at 32, a producer at 65,000 records/s with linger.ms=0 and acks=all waited a median 55 ms, at 128, 3 ms.
 */
export const MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION = 128;
/** Bytes of requests of one connection being processed at once; past this the connection stops being read. */
const MAX_IN_FLIGHT_REQUEST_BYTES = 16 * 1024 * 1024;
/** Response bytes queued on a socket past which the connection stops being read until they drain. */
export const MAX_UNSENT_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * Bytes that cannot be a Kafka request frame (a size past socket.request.max.bytes or below zero): the client's
 * fault, not the broker's. `protocol` names what the bytes look like instead, when they are recognisable.
 */
export class FramingError extends Error {
  override readonly name = 'FramingError';
  constructor(
    message: string,
    readonly protocol: 'HTTP' | 'TLS' | null = null,
  ) {
    super(message);
  }
}

/** First bytes of an HTTP/1 request (a method and a space) or of HTTP/2's preface; read as a size, all are huge. */
const HTTP_START = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|TRACE|CONNECT|PRI) /;
/** A TLS handshake record starts with content type 22 and major version 3. */
const TLS_HANDSHAKE = 0x16;
const TLS_MAJOR_VERSION = 0x03;

/** What a connection's first bytes look like when they are not Kafka's framing: another protocol, or nothing known. */
function recognise(first: Buffer): 'HTTP' | 'TLS' | null {
  if (first.length >= 2 && first[0] === TLS_HANDSHAKE && first[1] === TLS_MAJOR_VERSION) return 'TLS';
  if (HTTP_START.test(first.subarray(0, 8).toString('latin1'))) return 'HTTP';
  return null;
}

export interface ConnectionLimits {
  /** socket.request.max.bytes: a larger frame closes the connection before anything is allocated. */
  maxRequestBytes: number;
  /** connections.max.idle.ms: a connection with no traffic for this long is closed. */
  idleTimeoutMs: number;
  /**
   * Told of a response's chunks once the socket has written them, so that buffers the layers above lent from a
   * pool (segment reads) go back to it. The server knows nothing of where they came from.
   */
  onResponseWritten?: (chunks: readonly Buffer[]) => void;
}

/**
 * What the connection asks of the layer above for each request frame (without its size prefix).
 * Returns the response as chunks (without size prefix), or null when no response is sent (acks=0 produce).
 * Throwing closes the connection: it is how unparseable requests end, as in Kafka.
 *
 * Handlers are started in arrival order and may complete out of order; responses still leave in request
 * order. Work whose order matters (appends to a log) must therefore be started before the handler's first
 * await, which keeps a pipelining producer's batches in order while letting them share a group commit.
 */
export type FrameHandler = (frame: Buffer, connection: Connection) => Promise<Buffer[] | null>;

interface Pending {
  done: boolean;
  chunks: Buffer[] | null;
  requestBytes: number;
}

/** A pool without a bound, for connections made without one (tests of the framing alone). */
const UNBOUNDED_POOL = new RequestMemoryPool(-1);

/**
 * One client connection: Kafka's framing (int32 size, then the request), in-order responses, backpressure
 * and the idle timeout. Knows nothing of the protocol beyond the frame size.
 *
 * Reading stops for three reasons, each lifted as its cause clears: too many requests of this connection in
 * progress, too many response bytes unsent to it, or the listener's request memory pool full.
 */
export class Connection implements PoolMember {
  private readonly queue: Pending[] = [];
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private closed = false;
  /** Whether the socket is being read (not paused). */
  private reading = true;
  private flushScheduled = false;
  /** Callers of `whenResponsesWritten`, waiting for the responses queued before them to leave. */
  private writtenWaiters: Array<() => void> = [];
  /** Bytes of the requests in `queue`. */
  private inFlightBytes = 0;
  private framesRead = 0;
  /** Set once the connection is to end after the responses queued so far (a failed authentication). */
  private ending = false;
  /** Whether the frame being received has its memory reserved in the pool. */
  private reserved = false;
  /** Bytes of the reserved frame still to arrive (already counted in the pool). */
  private prepaid = 0;
  /** While a quota's throttle lasts (KIP-219), nothing more is read from the connection; its answers still go. */
  private throttleTimer: NodeJS.Timeout | null = null;
  private throttledUntilMs = 0;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Who the client is, as Kafka's principal (`User:<name>`): `User:ANONYMOUS` on PLAINTEXT and on SSL without a
   * client certificate; on SSL with one, its subject mapped by ssl.principal.mapping.rules.
   */
  principal = ANONYMOUS_PRINCIPAL;
  /**
   * On a SASL_PLAINTEXT or SASL_SSL listener, the connection's authentication (which requests it may send until
   * it completes, and the exchange in progress); null on PLAINTEXT and SSL listeners.
   */
  sasl: SaslAuthentication | null = null;

  constructor(
    readonly socket: Socket,
    private readonly limits: ConnectionLimits,
    private readonly handleFrame: FrameHandler,
    private readonly onError: (error: unknown, connection: Connection) => void,
    private readonly pool: RequestMemoryPool = UNBOUNDED_POOL,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
    if (limits.idleTimeoutMs > 0) {
      socket.setTimeout(limits.idleTimeoutMs, () => this.close());
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.wakeWrittenWaiters();
      this.updateReading();
    });
    socket.on('error', () => this.close());
    socket.on('close', () => this.onClosed());
  }

  get holdsPartialFrame(): boolean {
    return this.bufferedBytes > 0;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.onClosed();
    this.socket.destroy();
  }

  /** Gives back the memory of unfinished frames; requests still being handled give theirs back as they end. */
  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    this.throttleTimer = null;
    this.pool.remove(this);
    this.pool.release(this.bufferedBytes + this.prepaid);
    if (this.reserved) this.pool.reservationDone();
    this.reserved = false;
    this.prepaid = 0;
    this.buffered = [];
    this.bufferedBytes = 0;
    this.wakeWrittenWaiters();
  }

  /**
   * Reads no further request and closes the connection once the responses of the requests read so far are
   * written: a client told why it failed to authenticate gets that answer before the connection ends, as in Kafka.
   */
  endAfterResponses(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.scheduleFlush();
  }

  /**
   * Resolves once the responses finished so far have been handed to the socket and it holds at most
   * `MAX_UNSENT_RESPONSE_BYTES` unsent (or the connection closed). A handler whose answer can be large (Fetch)
   * waits for this, so that a client pipelining such requests without reading gets one answer built at a time
   * rather than all of them in memory.
   */
  whenResponsesWritten(): Promise<void> {
    if (this.responsesWritten()) return Promise.resolve();
    return new Promise((resolve) => this.writtenWaiters.push(resolve));
  }

  private responsesWritten(): boolean {
    if (this.closed) return true;
    if (this.socket.writableLength > MAX_UNSENT_RESPONSE_BYTES) return false;
    for (const p of this.queue) if (p.done) return false;
    return true;
  }

  private wakeWrittenWaiters(): void {
    if (this.writtenWaiters.length === 0 || !this.responsesWritten()) return;
    const waiters = this.writtenWaiters;
    this.writtenWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    // Bytes of a reserved frame were counted when it was reserved; anything past it is counted now.
    const reservedPart = Math.min(this.prepaid, chunk.length);
    this.prepaid -= reservedPart;
    this.pool.charge(chunk.length - reservedPart);
    this.parseFrames();
    this.updateReading();
  }

  /** Cuts complete frames out of the received bytes and starts their handlers. */
  private parseFrames(): void {
    while (!this.closed && !this.ending && !this.ownLimitReached() && this.bufferedBytes >= FRAME_SIZE_BYTES) {
      const size = this.peekSize();
      // Before SASL authentication completes, Kafka's sasl.server.max.receive.size bounds frames instead.
      const unauthenticated = this.sasl !== null && this.sasl.state !== 'complete';
      const limit = unauthenticated ? SASL_MAX_RECEIVE_BYTES : this.limits.maxRequestBytes;
      if (size < 0 || size > limit) {
        // Only a connection's first bytes can be another protocol's greeting; later ones are just bad framing.
        const protocol = this.framesRead === 0 ? recognise(this.buffered[0]!) : null;
        const reason = `request frame of ${size} bytes (limit ${limit}${unauthenticated ? ' before authentication' : ''})`;
        this.onError(new FramingError(reason, protocol), this);
        this.close();
        return;
      }
      if (this.bufferedBytes < FRAME_SIZE_BYTES + size) {
        // The rest of the frame gets its memory now, or the connection waits for it (see RequestMemoryPool).
        const missing = FRAME_SIZE_BYTES + size - this.bufferedBytes;
        if (!this.reserved && this.pool.tryReserve(this, missing)) {
          this.reserved = true;
          this.prepaid = missing;
        }
        return;
      }
      const frame = this.take(FRAME_SIZE_BYTES + size).subarray(FRAME_SIZE_BYTES);
      this.framesRead++;
      if (this.reserved) {
        this.reserved = false;
        this.pool.reservationDone();
      }
      this.dispatch(frame);
      // The size prefix is no longer held; the request is, until its handler is done.
      this.pool.release(FRAME_SIZE_BYTES);
    }
  }

  private peekSize(): number {
    const first = this.buffered[0]!;
    if (first.length >= FRAME_SIZE_BYTES) return first.readInt32BE(0);
    // The size prefix itself is split across reads: gather its four bytes without joining the chunks.
    let size = 0;
    let got = 0;
    for (const chunk of this.buffered) {
      for (let i = 0; i < chunk.length && got < FRAME_SIZE_BYTES; i++, got++) size = (size << 8) | chunk[i]!;
      if (got === FRAME_SIZE_BYTES) break;
    }
    return size;
  }

  /**
   * The next `n` bytes of the input: a slice when they sit in one chunk, else a copy of exactly those bytes
   * (the chunks after them are kept as they are, not joined).
   */
  private take(n: number): Buffer {
    const first = this.buffered[0]!;
    this.bufferedBytes -= n;
    if (first.length >= n) {
      if (first.length === n) this.buffered.shift();
      else this.buffered[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let used = 0;
    while (copied < n) {
      const chunk = this.buffered[used]!;
      const part = Math.min(chunk.length, n - copied);
      chunk.copy(out, copied, 0, part);
      copied += part;
      if (part === chunk.length) used++;
      else this.buffered[used] = chunk.subarray(part);
    }
    this.buffered.splice(0, used);
    return out;
  }

  /**
   * Reads nothing from the client for `ms` (a quota's throttle time, which its answer also carries): Kafka mutes
   * the channel so that a client that ignores throttle_time_ms is held to its quota anyway.
   */
  throttle(ms: number): void {
    if (ms <= 0 || this.closed) return;
    const until = Date.now() + ms;
    if (until <= this.throttledUntilMs) return;
    this.throttledUntilMs = until;
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = null;
      this.throttledUntilMs = 0;
      this.updateReading();
    }, ms);
    this.updateReading();
  }

  /** This connection's own limits: requests in progress, responses the client has not taken yet, a throttle. */
  private ownLimitReached(): boolean {
    return (
      this.throttledUntilMs > 0 ||
      this.queue.length >= MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION ||
      this.inFlightBytes >= MAX_IN_FLIGHT_REQUEST_BYTES ||
      this.socket.writableLength > MAX_UNSENT_RESPONSE_BYTES
    );
  }

  private dispatch(frame: Buffer): void {
    const pending: Pending = { done: false, chunks: null, requestBytes: frame.length };
    this.queue.push(pending);
    this.inFlightBytes += frame.length;
    let settled = false;
    // The request's memory goes back to the pool once its handler is done with it, even after a close.
    this.pool.requestStarted(this);
    const settle = () => {
      if (settled) return;
      settled = true;
      this.pool.requestEnded(frame.length);
    };
    this.handleFrame(frame, this).then(
      (chunks) => {
        settle();
        pending.done = true;
        pending.chunks = chunks;
        this.scheduleFlush();
      },
      (error: unknown) => {
        settle();
        this.onError(error, this);
        this.close();
      },
    );
  }

  /**
   * Responses finishing in the same turn of the event loop (a group commit completes every pipelined produce
   * of a round at once) leave in one write: the flush runs once those callbacks are done, not per response.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushResponses);
  }

  /** Writes finished responses at the head of the queue, in request order, in one corked batch. */
  private readonly flushResponses = (): void => {
    this.flushScheduled = false;
    if (this.closed) return;
    let corked = false;
    while (this.queue.length > 0 && this.queue[0]!.done) {
      const { chunks, requestBytes } = this.queue.shift()!;
      this.inFlightBytes -= requestBytes;
      if (!chunks) continue;
      if (!corked) {
        this.socket.cork();
        corked = true;
      }
      let size = 0;
      for (const c of chunks) size += c.length;
      const prefix = Buffer.allocUnsafe(FRAME_SIZE_BYTES);
      prefix.writeInt32BE(size, 0);
      this.socket.write(prefix);
      for (let i = 0; i < chunks.length - 1; i++) this.socket.write(chunks[i]!);
      // Once written, pooled buffers among the chunks go back to their pool (see ConnectionLimits).
      if (chunks.length > 0) {
        const onWritten = this.limits.onResponseWritten;
        if (onWritten) {
          this.socket.write(chunks[chunks.length - 1]!, (error) => {
            if (!error) onWritten(chunks);
          });
        } else this.socket.write(chunks[chunks.length - 1]!);
      }
    }
    if (corked) this.socket.uncork();
    if (this.ending && this.queue.length === 0) {
      // end() sends what is written, then the FIN; the socket is destroyed once that is done.
      const socket = this.socket;
      this.onClosed();
      socket.end(() => socket.destroy());
      return;
    }
    this.wakeWrittenWaiters();
    // Requests left the queue, or the client is not taking its responses ('drain' re-checks).
    this.updateReading();
  };

  /** The pool has room again, or gives this connection the turn to finish its frame. */
  resumeReading(): void {
    if (this.closed) return;
    if (this.ownLimitReached()) {
      // Held back by its own limits, it cannot use the turn: pass it on; it asks again once they clear.
      this.pool.remove(this);
      return;
    }
    this.updateReading();
  }

  /** Whether the socket may be read: its own limits allow, and the pool has room or its frame is reserved. */
  private canRead(): boolean {
    return !this.ownLimitReached() && (this.reserved || this.pool.mayRead(this));
  }

  /** Parses what its limits let through, then reads the socket or stops reading, whichever the limits say. */
  private updateReading(): void {
    if (this.closed) return;
    this.parseFrames();
    // Waiting may hand this connection the turn at once (resumeReading runs inside), hence canRead again after.
    if (!this.canRead() && !this.ownLimitReached()) this.pool.wait(this);
    if (this.closed) return;
    const read = this.canRead();
    if (read === this.reading) return;
    this.reading = read;
    if (read) this.socket.resume();
    else this.socket.pause();
  }
}
