/**
 * Rows as Kafka's tools print them with Java's printf: `%-Ns` pads a cell to N characters (never cutting it)
 * and a space separates the cells. widths[i] is the pad of cell i; a cell without one is printed as it is, as
 * the last `%s` of most of Kafka's formats.
 */
export function javaColumns(widths: readonly number[], cells: readonly string[]): string {
  return cells.map((cell, i) => (widths[i] === undefined ? cell : cell.padEnd(widths[i]!))).join(' ');
}
