/**
 * The byte-level CBOR writer and reader behind `cbor.ts` (RFC 8949), written here so
 * the library has no npm dependency: an npm package's unpublished optional
 * dependency breaks `import "<repo>/mod.ts"` from a project without our lock file.
 * The writer takes values `cbor.ts` has already checked (safe integers or 64-bit
 * bigints, strings, plain byte strings, arrays, `Map`s with sorted string keys) and
 * always uses the shortest head. The reader accepts any well-formed item except tags.
 * @module
 */

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** Thrown by the reader for malformed input; `cbor.ts` turns it into `CBOR_DECODE`. */
export class CborFormatError extends Error {}

/** A growable output buffer. */
class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  head(major: number, n: number | bigint): void {
    const m = major << 5;
    this.#reserve(9);
    if (typeof n === "bigint" || n >= 2 ** 32) {
      this.#buf[this.length++] = m | 27;
      this.#view.setBigUint64(this.length, BigInt(n));
      this.length += 8;
    } else if (n < 24) this.#buf[this.length++] = m | n;
    else if (n < 0x100) {
      this.#buf[this.length++] = m | 24;
      this.#buf[this.length++] = n;
    } else if (n < 0x10000) {
      this.#buf[this.length++] = m | 25;
      this.#view.setUint16(this.length, n);
      this.length += 2;
    } else {
      this.#buf[this.length++] = m | 26;
      this.#view.setUint32(this.length, n);
      this.length += 4;
    }
  }

  /** A text string; ASCII (the common case: ids, keys) is copied without an encoder call. */
  text(s: string): void {
    const n = s.length;
    if (n < 0x100) {
      this.#reserve(9 + n); // head() below reserves 9 too: it must not reallocate
      const start = this.length;
      const buf = this.#buf;
      let at = start + (n < 24 ? 1 : 2);
      let ascii = true;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        buf[at++] = c;
      }
      if (ascii) {
        this.head(3, n); // writes 1 or 2 head bytes at `start`, before the copied text
        this.length = at;
        return;
      }
      this.length = start;
    }
    const b = utf8.encode(s);
    this.head(3, b.length);
    this.bytes(b);
  }

  bytes(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }

  result(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

function write(w: Writer, v: unknown): void {
  if (v === null) return w.head(7, 22);
  switch (typeof v) {
    case "boolean":
      return w.head(7, v ? 21 : 20);
    case "number":
      return v >= 0 ? w.head(0, v) : w.head(1, -1 - v);
    case "bigint":
      return v >= 0n ? w.head(0, v) : w.head(1, -1n - v);
    case "string":
      return w.text(v);
  }
  if (v instanceof Uint8Array) {
    w.head(2, v.length);
    return w.bytes(v);
  }
  if (Array.isArray(v)) {
    w.head(4, v.length);
    for (const item of v) write(w, item);
    return;
  }
  if (v instanceof Map) {
    w.head(5, v.size);
    for (const [k, item] of v) {
      write(w, k);
      write(w, item);
    }
    return;
  }
  throw new CborFormatError(`cannot write ${typeof v}`);
}

/**
 * Writes one prepared value (see the module doc) as CBOR bytes.
 *
 * @example
 * ```ts
 * import { writeCbor } from "./_cbor_codec.ts";
 * writeCbor(new Map([["a", 1]])); // a1 61 61 01
 * ```
 */
export function writeCbor(value: unknown): Uint8Array {
  const w = new Writer();
  write(w, value);
  return w.result();
}

const BREAK = Symbol("break");

class Reader {
  pos = 0;
  readonly #view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number): void {
    if (this.pos + n > this.bytes.length) {
      throw new CborFormatError(`unexpected end of input at byte ${this.pos}`);
    }
  }

  #arg(info: number): number {
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) throw new CborFormatError(`invalid additional info ${info}`);
    this.#need(size);
    const p = this.pos;
    this.pos += size;
    if (size === 1) return this.#view.getUint8(p);
    if (size === 2) return this.#view.getUint16(p);
    if (size === 4) return this.#view.getUint32(p);
    // Beyond 2^53 precision is lost, as with any JSON number (files hold safe integers).
    return Number(this.#view.getBigUint64(p));
  }

  #take(n: number): Uint8Array {
    this.#need(n);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  #chunks(major: number): Uint8Array[] {
    const parts: Uint8Array[] = [];
    for (;;) {
      const part = this.item(true);
      if (part === BREAK) return parts;
      const ok = major === 2 ? part instanceof Uint8Array : typeof part === "string";
      if (!ok) throw new CborFormatError("bad chunk in an indefinite-length string");
      parts.push(typeof part === "string" ? utf8.encode(part) : part as Uint8Array);
    }
  }

  item(allowBreak = false): unknown {
    this.#need(1);
    const first = this.bytes[this.pos++];
    const major = first >> 5;
    const info = first & 0x1f;
    if (info === 31) {
      if (major === 7) {
        if (!allowBreak) throw new CborFormatError(`unexpected break at byte ${this.pos - 1}`);
        return BREAK;
      }
      return this.#indefinite(major);
    }
    if (major === 7) return this.#simple(info);
    const n = this.#arg(info);
    switch (major) {
      case 0:
        return n;
      case 1:
        return -1 - n;
      case 2:
        return this.#take(n);
      case 3:
        return this.#textAt(n);
      case 4: {
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.item();
        return out;
      }
      case 5: {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.item();
          if (typeof k === "string" && k !== "__proto__") out[k] = this.item();
          else setKey(out, k, this.item());
        }
        return out;
      }
      default:
        throw new CborFormatError(`tag ${n} is not supported`);
    }
  }

  #indefinite(major: number): unknown {
    if (major === 2 || major === 3) {
      const parts = this.#chunks(major);
      const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      return major === 2 ? all : this.#text(all);
    }
    if (major === 4) {
      const out: unknown[] = [];
      for (let v = this.item(true); v !== BREAK; v = this.item(true)) out.push(v);
      return out;
    }
    if (major === 5) {
      const out: Record<string, unknown> = {};
      for (let k = this.item(true); k !== BREAK; k = this.item(true)) setKey(out, k, this.item());
      return out;
    }
    throw new CborFormatError(`major type ${major} cannot have an indefinite length`);
  }

  // Short ASCII strings (ids, keys) without a decoder call; others through TextDecoder.
  #textAt(n: number): string {
    this.#need(n);
    const b = this.bytes;
    const start = this.pos;
    this.pos += n;
    if (n <= 64) {
      let ascii = true;
      for (let i = start; i < start + n; i++) {
        if (b[i] >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, b.subarray(start, start + n) as never);
    }
    return this.#text(b.subarray(start, start + n));
  }

  #text(b: Uint8Array): string {
    try {
      return utf8Strict.decode(b);
    } catch {
      throw new CborFormatError("text string is not valid UTF-8");
    }
  }

  #simple(info: number): unknown {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 23) return undefined;
    if (info === 25) return half(this.#take(2));
    if (info === 26) return new DataView(this.#take(4).buffer).getFloat32(0);
    if (info === 27) return new DataView(this.#take(8).buffer).getFloat64(0);
    throw new CborFormatError(`simple value ${info} is not supported`);
  }
}

function setKey(obj: Record<string, unknown>, key: unknown, value: unknown): void {
  const k = String(key);
  if (k !== "__proto__") {
    obj[k] = value;
    return;
  }
  // A "__proto__" key must stay data, never change the prototype.
  Object.defineProperty(obj, k, { value, enumerable: true, writable: true, configurable: true });
}

function half(b: Uint8Array): number {
  const h = (b[0] << 8) | b[1];
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * Reads every item in `bytes` (so callers can refuse trailing data). Throws
 * {@link CborFormatError} on malformed or truncated input.
 *
 * @example
 * ```ts
 * import { readCborItems } from "./_cbor_codec.ts";
 * readCborItems(new Uint8Array([0x01, 0x02])); // [1, 2]
 * ```
 */
export function readCborItems(bytes: Uint8Array): unknown[] {
  const r = new Reader(bytes);
  const out: unknown[] = [];
  while (r.pos < bytes.length) out.push(r.item());
  return out;
}
