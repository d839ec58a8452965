/** A Markdown table, columns padded so it also reads well in a terminal. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

export function fixed(value: number, digits = 1): string {
  return value.toFixed(digits);
}

export function integer(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function ratio(value: number): string {
  return `${value.toFixed(2)}x`;
}

export function dollars(value: number, digits = 2): string {
  return `$${value.toFixed(digits)}`;
}

/** Bytes in kB (1,000), as the 1 MB bundle goal and the CDK bundle test count them. */
export function kb(bytes: number): string {
  return `${Math.round(bytes / 1000).toLocaleString('en-US')} kB`;
}
