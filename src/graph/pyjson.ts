/**
 * Number and value formatting as Python's json.dump writes them (separators ", " and ": ", ensure_ascii,
 * float repr, NaN/Infinity as bare words), so that our graph files look like EAP-IG's.
 */

/** Python float repr layout for a shortest digit string `digits` (no sign) with decimal exponent `exp`. */
function pyLayout(neg: boolean, digits: string, exp: number): string {
  const sign = neg ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  if (exp >= 0) {
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    return `${sign}${int}.${digits.slice(exp + 1) || '0'}`;
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

/** Splits JavaScript's toExponential output "-1.2345e-7" into sign, digits and exponent. */
function fromExponential(s: string): string {
  const neg = s[0] === '-';
  const e = s.indexOf('e');
  const digits = s.slice(neg ? 1 : 0, e).replace('.', '').replace(/0+$/, '') || '0';
  return pyLayout(neg, digits, Number(s.slice(e + 1)));
}

function special(x: number): string | null {
  if (x !== x) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  return null;
}

/**
 * Shortest decimal that reads back (through float64, then rounded to float32) as the same float32 value,
 * in Python repr layout. `x` must already be a float32 value (e.g. read from a Float32Array).
 */
export function formatFloat32(x: number): string {
  const sp = special(x);
  if (sp !== null) return sp;
  // Round-tripping is monotone in the digit count (a p-digit decimal is also a (p+1)-digit one), so search
  // from 7 digits, where most float32 values land, up or down; 9 digits always suffice.
  let p = 7;
  if (Math.fround(Number(x.toExponential(p - 1))) === x) {
    while (p > 1 && Math.fround(Number(x.toExponential(p - 2))) === x) p--;
  } else {
    while (p < 9 && Math.fround(Number(x.toExponential(p - 1))) !== x) p++;
  }
  return fromExponential(x.toExponential(p - 1));
}

/** Python repr of a float64 (shortest round trip). Integers print as Python ints would. */
export function formatFloat64(x: number): string {
  const sp = special(x);
  if (sp !== null) return Number.isInteger(x) && x === 0 && !Object.is(x, -0) ? '0' : sp;
  if (Number.isSafeInteger(x)) return String(x);
  return fromExponential(x.toExponential());
}

/** A JSON string literal with non-ASCII escaped, as Python's json.dump (ensure_ascii=True). */
export function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Serializes plain JSON-like data in Python json.dump layout. */
export function pyDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return formatFloat64(v);
  if (typeof v === 'string') return pyString(v);
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${pyString(k)}: ${pyDumps(x)}`)
      .join(', ')}}`;
  }
  throw new Error(`pyDumps: cannot serialize a ${typeof v}`);
}

const SENTINEL = '\u0000py:';

/**
 * Python's json.dump writes NaN, Infinity and -Infinity as bare words, which JSON.parse rejects. Turns such
 * values (after ':', '[' or ',') into sentinel strings that `fromPySentinel` maps back to numbers.
 */
export function quotePyNonFinite(text: string): string {
  if (!text.includes('NaN') && !text.includes('Infinity')) return text;
  return text.replace(/([:[,]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '$1"\\u0000py:$2"');
}

/** The number a sentinel string from quotePyNonFinite stands for, or undefined for any other value. */
export function fromPySentinel(v: unknown): number | undefined {
  if (typeof v !== 'string' || !v.startsWith(SENTINEL)) return undefined;
  const w = v.slice(SENTINEL.length);
  return w === 'NaN' ? NaN : w === 'Infinity' ? Infinity : -Infinity;
}

/** Deep copy of parsed JSON with sentinel strings turned back into NaN / ±Infinity. */
export function restorePyNonFinite(v: unknown): unknown {
  const n = fromPySentinel(v);
  if (n !== undefined) return n;
  if (Array.isArray(v)) return v.map(restorePyNonFinite);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, restorePyNonFinite(x)]));
  }
  return v;
}
