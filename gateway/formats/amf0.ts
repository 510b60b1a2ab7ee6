/**
 * AMF0 (Adobe "Action Message Format -- AMF 0", 2007) values as used in FLV script tags and
 * RTMP data messages. Decoding is bounded: nesting depth and element counts are capped, and
 * any malformed input throws Amf0Error.
 */

import { StreamgateError } from '../core/errors.js';

export type Amf0Value = number | boolean | string | null | undefined | Date | Amf0Value[] | { [key: string]: Amf0Value };

export class Amf0Error extends StreamgateError {
  constructor(message: string) {
    super('SG_ERR_PROTOCOL', message);
  }
}

const MAX_DEPTH = 16;
const MAX_ELEMENTS = 4096;

const T_NUMBER = 0x00;
const T_BOOLEAN = 0x01;
const T_STRING = 0x02;
const T_OBJECT = 0x03;
const T_NULL = 0x05;
const T_UNDEFINED = 0x06;
const T_ECMA_ARRAY = 0x08;
const T_OBJECT_END = 0x09;
const T_STRICT_ARRAY = 0x0a;
const T_DATE = 0x0b;
const T_LONG_STRING = 0x0c;

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Amf0Error(`AMF0 value truncated at byte ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  utf8(len: number): string {
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

function decodeValue(c: Cursor, depth: number): Amf0Value {
  if (depth > MAX_DEPTH) throw new Amf0Error(`AMF0 nesting deeper than ${MAX_DEPTH}`);
  const type = c.u8();
  switch (type) {
    case T_NUMBER:
      return c.f64();
    case T_BOOLEAN:
      return c.u8() !== 0;
    case T_STRING:
      return c.utf8(c.u16());
    case T_LONG_STRING:
      return c.utf8(c.u32());
    case T_NULL:
      return null;
    case T_UNDEFINED:
      return undefined;
    case T_OBJECT:
      return decodeProperties(c, depth);
    case T_ECMA_ARRAY:
      c.u32(); // approximate count; the end marker is authoritative
      return decodeProperties(c, depth);
    case T_STRICT_ARRAY: {
      const count = c.u32();
      if (count > MAX_ELEMENTS) throw new Amf0Error(`AMF0 array of ${count} elements exceeds ${MAX_ELEMENTS}`);
      const out: Amf0Value[] = [];
      for (let i = 0; i < count; i++) out.push(decodeValue(c, depth + 1));
      return out;
    }
    case T_DATE: {
      const t = c.f64();
      c.u16(); // time zone, unused per spec
      return new Date(t);
    }
    default:
      throw new Amf0Error(`unsupported AMF0 type 0x${type.toString(16)} at byte ${c.pos - 1}`);
  }
}

function decodeProperties(c: Cursor, depth: number): { [key: string]: Amf0Value } {
  const out: { [key: string]: Amf0Value } = Object.create(null);
  for (let n = 0; ; n++) {
    if (n > MAX_ELEMENTS) throw new Amf0Error(`AMF0 object with more than ${MAX_ELEMENTS} properties`);
    const key = c.utf8(c.u16());
    if (key === '') {
      if (c.pos < c.buf.length && c.buf[c.pos] === T_OBJECT_END) c.pos++;
      else throw new Amf0Error('AMF0 object without end marker');
      return out;
    }
    out[key] = decodeValue(c, depth + 1);
  }
}

/** Decodes every value in `buf`. */
export function decodeAmf0(buf: Buffer): Amf0Value[] {
  const c = new Cursor(buf);
  const values: Amf0Value[] = [];
  while (c.pos < buf.length) {
    if (values.length >= MAX_ELEMENTS) throw new Amf0Error('too many AMF0 values');
    values.push(decodeValue(c, 0));
  }
  return values;
}

function encodeString(s: string, parts: Buffer[]): void {
  const body = Buffer.from(s, 'utf8');
  if (body.length > 0xffff) {
    const h = Buffer.alloc(5);
    h[0] = T_LONG_STRING;
    h.writeUInt32BE(body.length, 1);
    parts.push(h, body);
  } else {
    const h = Buffer.alloc(3);
    h[0] = T_STRING;
    h.writeUInt16BE(body.length, 1);
    parts.push(h, body);
  }
}

function encodeKey(k: string, parts: Buffer[]): void {
  const body = Buffer.from(k, 'utf8');
  const h = Buffer.alloc(2);
  h.writeUInt16BE(Math.min(body.length, 0xffff), 0);
  parts.push(h, body.subarray(0, 0xffff));
}

/** An object encoded as an ECMA array (what onMetaData uses) instead of a plain object. */
export class EcmaArray {
  constructor(readonly entries: { [key: string]: Amf0Value }) {}
}

function encodeValue(v: Amf0Value | EcmaArray, parts: Buffer[]): void {
  if (v === null) parts.push(Buffer.from([T_NULL]));
  else if (v === undefined) parts.push(Buffer.from([T_UNDEFINED]));
  else if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = T_NUMBER;
    b.writeDoubleBE(v, 1);
    parts.push(b);
  } else if (typeof v === 'boolean') parts.push(Buffer.from([T_BOOLEAN, v ? 1 : 0]));
  else if (typeof v === 'string') encodeString(v, parts);
  else if (v instanceof Date) {
    const b = Buffer.alloc(11);
    b[0] = T_DATE;
    b.writeDoubleBE(v.getTime(), 1);
    parts.push(b);
  } else if (Array.isArray(v)) {
    const h = Buffer.alloc(5);
    h[0] = T_STRICT_ARRAY;
    h.writeUInt32BE(v.length, 1);
    parts.push(h);
    for (const e of v) encodeValue(e, parts);
  } else {
    const entries = v instanceof EcmaArray ? v.entries : v;
    if (v instanceof EcmaArray) {
      const h = Buffer.alloc(5);
      h[0] = T_ECMA_ARRAY;
      h.writeUInt32BE(Object.keys(entries).length, 1);
      parts.push(h);
    } else {
      parts.push(Buffer.from([T_OBJECT]));
    }
    for (const [k, e] of Object.entries(entries)) {
      encodeKey(k, parts);
      encodeValue(e, parts);
    }
    parts.push(Buffer.from([0, 0, T_OBJECT_END]));
  }
}

export function encodeAmf0(...values: (Amf0Value | EcmaArray)[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) encodeValue(v, parts);
  return Buffer.concat(parts);
}
