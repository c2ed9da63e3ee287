import type { BinaryWriter } from './copy-binary.ts';
import { arrayElement, arrayLiteral, copyEscape, floatText } from './copy-text.ts';

/** The subset of h5wasm's type metadata this module reads. */
export interface H5Meta {
  type: number;
  size: number;
  signed: boolean;
  littleEndian: boolean;
  vlen: boolean;
  cset?: number;
  strpad?: number;
  shape?: number[] | null;
  name?: string;
  offset?: number;
  compound_type?: { members: H5Meta[] };
  array_type?: H5Meta & { shape: number[]; total_size: number };
  enum_type?: { members: Record<string, number>; type: number; size: number; signed: boolean };
  /** Base type of a vlen sequence (class H5T_VLEN). */
  vlen_type?: H5Meta;
  /** Significant bits of a bitfield (H5Tget_precision), where known: h5wasm does not report it. */
  precision?: number;
  /** Set by the reader on bitfields a writer uses as booleans (PyTables' `bool`: 8-bit bitfields). */
  boolean?: boolean;
}

/** HDF5 type classes (H5T_class_t). */
export const H5T = {
  INTEGER: 0,
  FLOAT: 1,
  TIME: 2,
  STRING: 3,
  BITFIELD: 4,
  OPAQUE: 5,
  COMPOUND: 6,
  REFERENCE: 7,
  ENUM: 8,
  VLEN: 9,
  ARRAY: 10,
} as const;

const className: Record<number, string> = {
  2: 'H5T_TIME',
  4: 'H5T_BITFIELD',
  5: 'H5T_OPAQUE',
  7: 'H5T_REFERENCE',
  9: 'H5T_VLEN',
};

/** A type this reader cannot turn into a column; the message names the HDF5 class. */
export class UnsupportedTypeError extends Error {
  override name = 'UnsupportedTypeError';
}

/** Reads one value at `offset` of a record and renders it as COPY text (already escaped). */
export type FieldEncoder = (view: DataView, offset: number) => string;

/** Writes one value at `offset` of a record as a binary COPY field (length + big-endian bytes). */
export type BinaryFieldEncoder = (view: DataView, offset: number, out: BinaryWriter) => void;

/** One output column: its name, its Postgres type and how to read it from a fixed-size record. */
export interface FieldColumn {
  name: string;
  pgType: string;
  /** Byte offset inside the record. */
  offset: number;
  encode: FieldEncoder;
  /** Binary COPY encoder, when the type has a simple binary form (numbers, booleans, strings). */
  binary?: BinaryFieldEncoder;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Latin-1 (ISO 8859-1, not windows-1252): every byte is the code point of the same value. */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192)
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 8192)));
  return s;
}

/**
 * Text of HDF5 string bytes. HDF5 says nothing about the encoding of ASCII-charset strings, and real
 * files hold UTF-8 and Latin-1 there (and, rarely, invalid bytes under the UTF-8 charset): UTF-8 when
 * the bytes are valid UTF-8, Latin-1 otherwise, so no byte is ever replaced by U+FFFD.
 */
export function decodeText(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return latin1(bytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return latin1(bytes);
  }
}

function float16(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const f = bits & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 0x1f) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** True when the type (or any member/element) is variable-length, so raw records hold pointers. */
export function hasVlen(m: H5Meta): boolean {
  if (m.vlen || m.type === H5T.VLEN) return true;
  if (m.compound_type) return m.compound_type.members.some(hasVlen);
  if (m.array_type) return hasVlen(m.array_type);
  return false;
}

/** The reason a type cannot be read, or undefined when it can. */
export function unsupportedReason(m: H5Meta): string | undefined {
  if (m.type === H5T.TIME || m.type === H5T.OPAQUE || m.type === H5T.REFERENCE) {
    return `${className[m.type]} data is not supported`;
  }
  if (m.compound_type) {
    for (const member of m.compound_type.members) {
      const r = unsupportedReason(member);
      if (r) return `member '${member.name}': ${r}`;
    }
  }
  if (m.array_type) return unsupportedReason(m.array_type);
  if (m.type === H5T.VLEN && m.array_type === undefined && !m.vlen) {
    // h5wasm describes vlen sequences by class only; their base type is read as processed values.
    return undefined;
  }
  return undefined;
}

function isBoolEnum(m: H5Meta): boolean {
  const names = Object.keys(m.enum_type?.members ?? {});
  return names.length === 2 && names.includes('FALSE') && names.includes('TRUE');
}

/** Only 1-bit bitfields and the bitfields a writer marks as booleans are booleans; wider ones are integers. */
function isBoolBitfield(m: H5Meta): boolean {
  return m.type === H5T.BITFIELD && (m.boolean === true || m.precision === 1);
}

/** Marks every bitfield in a type (members, elements) as a boolean, for PyTables' `bool` atom. */
export function withBooleanBitfields(m: H5Meta): H5Meta {
  return {
    ...m,
    boolean: m.type === H5T.BITFIELD && m.size === 1 ? true : m.boolean,
    array_type: m.array_type
      ? (withBooleanBitfields(m.array_type) as H5Meta['array_type'])
      : undefined,
    compound_type: m.compound_type
      ? { ...m.compound_type, members: m.compound_type.members.map(withBooleanBitfields) }
      : undefined,
  };
}

/** Postgres type for a scalar HDF5 type. */
function scalarPgType(m: H5Meta): string {
  switch (m.type) {
    case H5T.INTEGER:
      if (m.size <= 2) return m.signed || m.size === 1 ? 'smallint' : 'integer';
      if (m.size <= 4) return m.signed ? 'integer' : 'bigint';
      return m.signed ? 'bigint' : 'numeric';
    case H5T.FLOAT:
      return m.size <= 4 ? 'real' : 'double precision';
    case H5T.STRING:
      return 'text';
    case H5T.BITFIELD:
      // Bits as an unsigned number; booleans only where the type says so.
      if (isBoolBitfield(m)) return 'boolean';
      return m.size === 1
        ? 'smallint'
        : m.size <= 2
          ? 'integer'
          : m.size <= 4
            ? 'bigint'
            : 'numeric';
    case H5T.ENUM:
      return isBoolEnum(m) ? 'boolean' : 'text';
    default:
      throw new UnsupportedTypeError(
        unsupportedReason(m) ?? `HDF5 type class ${m.type} is not supported`,
      );
  }
}

function integerReader(
  size: number,
  signed: boolean,
  le: boolean,
): (v: DataView, o: number) => number | bigint {
  switch (size) {
    case 1:
      return signed ? (v, o) => v.getInt8(o) : (v, o) => v.getUint8(o);
    case 2:
      return signed ? (v, o) => v.getInt16(o, le) : (v, o) => v.getUint16(o, le);
    case 4:
      return signed ? (v, o) => v.getInt32(o, le) : (v, o) => v.getUint32(o, le);
    case 8:
      return signed ? (v, o) => v.getBigInt64(o, le) : (v, o) => v.getBigUint64(o, le);
    default:
      throw new UnsupportedTypeError(`${size}-byte integers are not supported`);
  }
}

/** A fixed-length string's text: cut at the first NUL, trailing spaces dropped when space-padded. */
function fixedString(bytes: Uint8Array, spacePad: boolean): string {
  const end = bytes.indexOf(0);
  const s = decodeText(end < 0 ? bytes : bytes.subarray(0, end));
  return spacePad ? s.replace(/ +$/, '') : s;
}

/** Encoder for a scalar (non-array, non-compound) type, producing unescaped text or, for strings, raw. */
function scalarText(m: H5Meta): (v: DataView, o: number) => string {
  const le = m.littleEndian;
  switch (m.type) {
    case H5T.INTEGER: {
      const read = integerReader(m.size, m.signed, le);
      return (v, o) => String(read(v, o));
    }
    case H5T.BITFIELD: {
      if (isBoolBitfield(m)) return (v, o) => (v.getUint8(o) !== 0 ? 't' : 'f');
      const read = integerReader(m.size, false, le);
      return (v, o) => String(read(v, o));
    }
    case H5T.FLOAT:
      if (m.size === 8) return (v, o) => floatText(v.getFloat64(o, le));
      if (m.size === 4) return (v, o) => floatText(v.getFloat32(o, le));
      if (m.size === 2) return (v, o) => floatText(float16(v.getUint16(o, le)));
      throw new UnsupportedTypeError(`${m.size}-byte floats are not supported`);
    case H5T.STRING: {
      const size = m.size;
      const spacePad = m.strpad === 2;
      return (v, o) => fixedString(new Uint8Array(v.buffer, v.byteOffset + o, size), spacePad);
    }
    case H5T.ENUM: {
      const et = m.enum_type as NonNullable<H5Meta['enum_type']>;
      const read = integerReader(m.size, m.signed, le);
      const labels = new Map<string, string>();
      for (const [name, value] of Object.entries(et.members)) labels.set(String(value), name);
      const bool = isBoolEnum(m);
      return (v, o) => {
        const raw = String(read(v, o));
        const label = labels.get(raw) ?? raw;
        return bool ? (label === 'TRUE' ? 't' : 'f') : label;
      };
    }
    default:
      throw new UnsupportedTypeError(
        unsupportedReason(m) ?? `HDF5 type class ${m.type} is not supported`,
      );
  }
}

/**
 * Columns for a fixed-size record type: compound members become columns (nested members joined with
 * `__`), fixed-size array members become Postgres arrays, everything else one column named `name`.
 */
export function fieldColumns(m: H5Meta, name: string, baseOffset = 0): FieldColumn[] {
  // h5wasm converts simple types to native (little-endian) order when reading, but hands compound
  // records over in the file's layout and byte order.
  return fieldColumnsOf(bufferLayout(m), name, baseOffset);
}

type Order = 'LE' | 'BE' | 'NONE' | 'MIXED';

/** Byte order of a type as HDF5's H5Tget_order reports it (compounds: MIXED when members differ). */
function orderOf(m: H5Meta): Order {
  switch (m.type) {
    case H5T.INTEGER:
    case H5T.FLOAT:
    case H5T.ENUM:
    case H5T.BITFIELD:
      return m.littleEndian ? 'LE' : 'BE';
    case H5T.ARRAY:
      return m.array_type ? orderOf(m.array_type) : 'NONE';
    case H5T.COMPOUND: {
      const orders = new Set(
        (m.compound_type?.members ?? []).map(orderOf).filter((o) => o !== 'NONE'),
      );
      if (orders.size === 0) return 'NONE';
      return orders.size === 1 ? ([...orders][0] as Order) : 'MIXED';
    }
    default:
      return 'NONE';
  }
}

function asLittleEndian(m: H5Meta): H5Meta {
  return {
    ...m,
    littleEndian: m.type === H5T.STRING ? m.littleEndian : true,
    array_type: m.array_type ? (asLittleEndian(m.array_type) as H5Meta['array_type']) : undefined,
    compound_type: m.compound_type
      ? { members: m.compound_type.members.map(asLittleEndian) }
      : undefined,
  };
}

/**
 * The byte order of the records h5wasm hands back: it asks HDF5 to convert big-endian types to
 * little-endian, which HDF5 does for numbers, arrays and uniformly big-endian compounds, but not for
 * enums or mixed-order compounds; those arrive in the file's own order.
 */
function bufferLayout(m: H5Meta): H5Meta {
  return orderOf(m) === 'BE' && m.type !== H5T.ENUM ? asLittleEndian(m) : m;
}

function fieldColumnsOf(m: H5Meta, name: string, baseOffset: number): FieldColumn[] {
  if (m.type === H5T.COMPOUND && m.compound_type) {
    return m.compound_type.members.flatMap((member) =>
      fieldColumnsOf(
        member,
        name ? `${name}__${member.name}` : (member.name as string),
        baseOffset + (member.offset ?? 0),
      ),
    );
  }
  if (m.type === H5T.ARRAY && m.array_type) {
    const el = m.array_type;
    if (el.type === H5T.COMPOUND || el.type === H5T.ARRAY) {
      throw new UnsupportedTypeError(
        `arrays of ${el.type === H5T.COMPOUND ? 'compounds' : 'arrays'} are not supported`,
      );
    }
    const text = scalarText(el);
    const quote = el.type === H5T.STRING || (el.type === H5T.ENUM && !isBoolEnum(el));
    const count = el.total_size;
    const size = el.size;
    const shape = el.shape;
    return [
      {
        name: name || 'value',
        pgType: `${scalarPgType(el)}[]`,
        offset: baseOffset,
        encode: (v, o) => {
          const parts: string[] = new Array(count);
          for (let i = 0; i < count; i++) {
            const t = text(v, o + i * size);
            parts[i] = quote ? arrayElement(t) : t;
          }
          return copyEscape(arrayLiteral(parts, shape));
        },
      },
    ];
  }
  const text = scalarText(m);
  const needsEscape = m.type === H5T.STRING || m.type === H5T.ENUM;
  const pgType = scalarPgType(m);
  return [
    {
      name: name || 'value',
      pgType,
      offset: baseOffset,
      encode: needsEscape ? (v, o) => copyEscape(text(v, o)) : text,
      binary: scalarBinary(m, pgType, text),
    },
  ];
}

const utf8Encoder = new TextEncoder();

/** Binary COPY encoder for a scalar, or undefined where text is simpler (numeric for uint64). */
function scalarBinary(
  m: H5Meta,
  pgType: string,
  text: (v: DataView, o: number) => string,
): BinaryFieldEncoder | undefined {
  const le = m.littleEndian;
  if (
    (m.type === H5T.INTEGER || m.type === H5T.BITFIELD) &&
    pgType !== 'numeric' &&
    pgType !== 'boolean'
  ) {
    const read = integerReader(m.size, m.signed, le);
    if (pgType === 'smallint')
      return (v, o, w) => {
        w.ensure(6);
        w.int32(2);
        w.int16(Number(read(v, o)));
      };
    if (pgType === 'integer')
      return (v, o, w) => {
        w.ensure(8);
        w.int32(4);
        w.int32(Number(read(v, o)));
      };
    return (v, o, w) => {
      w.ensure(12);
      w.int32(8);
      w.view.setBigInt64(w.pos, BigInt(read(v, o)));
      w.pos += 8;
    };
  }
  if (m.type === H5T.FLOAT) {
    if (m.size === 8)
      return (v, o, w) => {
        w.ensure(12);
        w.int32(8);
        w.view.setFloat64(w.pos, v.getFloat64(o, le));
        w.pos += 8;
      };
    const read =
      m.size === 4
        ? (v: DataView, o: number) => v.getFloat32(o, le)
        : (v: DataView, o: number) => float16(v.getUint16(o, le));
    return (v, o, w) => {
      w.ensure(8);
      w.int32(4);
      w.view.setFloat32(w.pos, read(v, o));
      w.pos += 4;
    };
  }
  if (pgType === 'boolean') {
    return (v, o, w) => {
      w.ensure(5);
      w.int32(1);
      w.view.setUint8(w.pos, text(v, o) === 't' ? 1 : 0);
      w.pos += 1;
    };
  }
  if (pgType === 'text') {
    return (v, o, w) => {
      const bytes = utf8Encoder.encode(text(v, o));
      w.ensure(4 + bytes.length);
      w.int32(bytes.length);
      w.buf.set(bytes, w.pos);
      w.pos += bytes.length;
    };
  }
  return undefined;
}

/** One row of variable-length data as the library left it: the bytes it points to, its length. */
export interface VlenValue {
  bytes: Uint8Array;
  /** Elements in a sequence (bytes / base size); for strings, the byte length. */
  count: number;
}

const classNames: Record<number, string> = {
  ...className,
  0: 'H5T_INTEGER',
  1: 'H5T_FLOAT',
  3: 'H5T_STRING',
  6: 'H5T_COMPOUND',
  8: 'H5T_ENUM',
  10: 'H5T_ARRAY',
};

/**
 * Postgres type and COPY text for a variable-length dataset (vlen strings, vlen sequences), from the
 * raw bytes each row points to (sequences arrive converted to little-endian). `unicode` marks PyTables'
 * VLUnicode arrays (vlen of uint32 code points, `PSEUDOATOM=vlunicode`), which are text.
 */
export function vlenColumn(
  m: H5Meta,
  unicode = false,
): { pgType: string; encode: (x: VlenValue | null) => string } {
  if (m.type === H5T.STRING) {
    return {
      pgType: 'text',
      encode: (x) => (x === null ? '\\N' : copyEscape(decodeText(x.bytes))),
    };
  }
  const base = m.vlen_type;
  if (m.type !== H5T.VLEN || !base) throw new UnsupportedTypeError('unknown variable-length type');
  if (unicode && base.type === H5T.INTEGER && base.size === 4) {
    return {
      pgType: 'text',
      encode: (x) => {
        if (x === null) return '\\N';
        const v = new DataView(x.bytes.buffer, x.bytes.byteOffset, x.bytes.byteLength);
        let s = '';
        for (let i = 0; i < x.count; i++) {
          const cp = v.getUint32(i * 4, true);
          s += cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : '\uFFFD';
        }
        return copyEscape(s.replace(/\0+$/, ''));
      },
    };
  }
  if (
    hasVlen(base) ||
    ![H5T.INTEGER, H5T.FLOAT, H5T.BITFIELD, H5T.STRING].includes(base.type as 0)
  ) {
    throw new UnsupportedTypeError(
      `variable-length sequences of ${classNames[base.type] ?? `class ${base.type}`} are not supported`,
    );
  }
  const el: H5Meta = { ...base, littleEndian: base.type === H5T.STRING ? base.littleEndian : true };
  const size = el.size;
  const spacePad = el.strpad === 2;
  const text =
    el.type === H5T.STRING
      ? (v: DataView, o: number) =>
          arrayElement(fixedString(new Uint8Array(v.buffer, v.byteOffset + o, size), spacePad))
      : scalarText(el);
  return {
    pgType: `${scalarPgType(el)}[]`,
    encode: (x) => {
      if (x === null) return '\\N';
      const v = new DataView(x.bytes.buffer, x.bytes.byteOffset, x.bytes.byteLength);
      const parts: string[] = new Array(x.count);
      for (let i = 0; i < x.count; i++) parts[i] = text(v, i * size);
      return copyEscape(`{${parts.join(',')}}`);
    },
  };
}
