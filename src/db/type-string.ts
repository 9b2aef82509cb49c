/**
 * DuckDB's text for a type, as DESCRIBE prints it (`STRUCT("at" TIMESTAMP, n INTEGER)[]`,
 * `MAP(VARCHAR, TIMESTAMP[])`, `TIMESTAMP WITH TIME ZONE`), parsed into its nesting, for
 * callers that must tell apart values `lake.query` returns alike (a TIMESTAMP and a TIMESTAMPTZ
 * are both a `Date`) at any depth.
 */
export type TypeNode =
  | { kind: 'scalar'; name: string }
  | { kind: 'list'; item: TypeNode }
  | { kind: 'struct' | 'union'; fields: [string, TypeNode][] }
  | { kind: 'map'; key: TypeNode; value: TypeNode };

/** The parsed type; throws on text it cannot read. */
export function parseTypeString(text: string): TypeNode {
  let i = 0;
  const skip = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const expect = (ch: string) => {
    skip();
    if (text[i] !== ch) throw new Error(`type ${JSON.stringify(text)}: expected ${ch} at ${i}`);
    i++;
  };
  const quoted = (quote: string): string => {
    let out = '';
    for (i++; i < text.length; i++) {
      if (text[i] === quote && text[i + 1] === quote) out += text[i++];
      else if (text[i] === quote) {
        i++;
        return out;
      }
      else out += text[i];
    }
    throw new Error(`type ${JSON.stringify(text)}: unterminated ${quote}`);
  };
  const fieldName = (): string => {
    skip();
    if (text[i] === '"') return quoted('"');
    const start = i;
    while (i < text.length && !/[\s(),[\]]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  const type = (): TypeNode => {
    skip();
    const start = i;
    while (i < text.length && !/[(),[\]]/.test(text[i]!)) i++;
    const name = text.slice(start, i).trim().toUpperCase();
    if (!name) throw new Error(`type ${JSON.stringify(text)}: expected a type at ${start}`);
    let node: TypeNode = { kind: 'scalar', name };
    if (text[i] === '(') {
      if (name === 'STRUCT' || name === 'UNION') {
        const fields: [string, TypeNode][] = [];
        i++;
        for (;;) {
          fields.push([fieldName(), type()]);
          if (text[i] !== ',') break;
          i++;
        }
        expect(')');
        node = { kind: name === 'STRUCT' ? 'struct' : 'union', fields };
      } else if (name === 'MAP') {
        i++;
        const key = type();
        expect(',');
        node = { kind: 'map', key, value: type() };
        expect(')');
      } else {
        // DECIMAL(18,3), ENUM('a', 'b'): arguments that do not nest types.
        let depth = 0;
        do {
          const ch = text[i];
          if (ch === "'") {
            quoted("'");
            continue;
          }
          i++;
          if (ch === '(') depth++;
          else if (ch === ')') depth--;
        } while (depth > 0 && i < text.length);
        if (depth !== 0) throw new Error(`type ${JSON.stringify(text)}: unbalanced (`);
      }
    }
    skip();
    while (text[i] === '[') {
      while (i < text.length && text[i] !== ']') i++;
      expect(']');
      skip();
      node = { kind: 'list', item: node };
    }
    return node;
  };
  const node = type();
  skip();
  if (i !== text.length) throw new Error(`type ${JSON.stringify(text)}: unexpected ${JSON.stringify(text.slice(i))}`);
  return node;
}
