/** Escapes a value for Postgres COPY text format (backslash, tab, newline, carriage return). */
export function copyEscape(s: string): string {
  if (!/[\\\t\n\r]/.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

/** A float as Postgres accepts it in COPY (NaN and infinities spelled its way). */
export function floatText(x: number): string {
  if (Number.isFinite(x)) return String(x);
  if (Number.isNaN(x)) return 'NaN';
  return x > 0 ? 'Infinity' : '-Infinity';
}

/** Quotes one element of an array literal (`{"a b","c\"d"}`). */
export function arrayElement(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Nests a flat list of element literals into a (multi-dimensional) Postgres array literal. */
export function arrayLiteral(elements: string[], shape: number[]): string {
  if (shape.length <= 1) return `{${elements.join(',')}}`;
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  const parts: string[] = [];
  for (let i = 0; i < elements.length; i += inner) {
    parts.push(arrayLiteral(elements.slice(i, i + inner), shape.slice(1)));
  }
  return `{${parts.join(',')}}`;
}

/** Double-quotes an identifier for SQL. Every identifier built from input goes through here. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
