/**
 * JSON.parse that keeps integers past ±2^53 exact, as `bigint`s. JSON numbers have no size limit,
 * but JSON.parse turns `1234567890123456789` into 1234567890123456800 (Node 20 has no reviver
 * source access). Texts without a run of 16 digits (the common case) go straight to JSON.parse;
 * the others have their big integer literals quoted with a marker first, outside strings, and
 * turned into `bigint`s by the reviver. Decimals and exponents stay numbers.
 */
const MARK = '\u0000duckhouse-bigint:';
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function parseJsonExact(text: string): unknown {
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  let out = '';
  let last = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (quoted) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) quoted = false;
      continue;
    }
    if (ch === 0x22) {
      quoted = true;
      continue;
    }
    if (ch !== 0x2d && (ch < 0x30 || ch > 0x39)) continue;
    // A number literal: -?digits[.digits][e±digits]
    let j = i + 1;
    while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) j++;
    const literal = text.slice(i, j);
    if (/^-?\d{16,}$/.test(literal)) {
      const value = BigInt(literal);
      if (value > MAX_SAFE || value < -MAX_SAFE) {
        out += `${text.slice(last, i)}"${MARK.replace('\u0000', '\\u0000')}${literal}"`;
        last = j;
      }
    }
    i = j - 1;
  }
  if (last === 0) return JSON.parse(text);
  out += text.slice(last);
  return JSON.parse(out, (_key, value: unknown) => (typeof value === 'string' && value.startsWith(MARK) ? BigInt(value.slice(MARK.length)) : value));
}

const BIGINT_LITERAL = /"\\u0000duckhouse-bigint:(-?\d+)"/g;

/**
 * JSON.stringify that writes `bigint`s as the integer literals they are (JSON.stringify throws on
 * them; Node 20 has no JSON.rawJSON): what parseJsonExact read, written back with every digit.
 * `replacer` sees every value but the bigints, as JSON.stringify's would.
 */
export function stringifyJsonExact(value: unknown, space?: number, replacer?: (this: unknown, key: string, value: unknown) => unknown): string {
  // Without a replacer, JSON.stringify's own fast path (a replacer function slows it several times:
  // a page digest per page of an HTTP source goes through here); it throws at the first bigint.
  if (!replacer) {
    try {
      return JSON.stringify(value, undefined, space);
    } catch (error) {
      if (!(error instanceof TypeError && /BigInt/i.test(error.message))) throw error;
    }
  }
  let bigints = false;
  const text = JSON.stringify(
    value,
    function (this: unknown, key: string, v: unknown) {
      if (typeof v !== 'bigint') return replacer ? replacer.call(this, key, v) : v;
      bigints = true;
      return `${MARK}${v}`;
    },
    space,
  );
  // Bronze writes every JSON value through here: without a bigint, no scan of the text.
  return text === undefined || !bigints ? text : text.replace(BIGINT_LITERAL, '$1');
}
