/** SQL quoting. Identifiers and literals built from user input always pass through here. */

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('a SQL literal cannot contain a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

/** `"schema"."name"` */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}
