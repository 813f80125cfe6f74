const COLORS = [36, 35, 32, 33, 34, 91, 96, 95];
const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const WIDTH = 11;

export function paint(code: number, text: string): string {
  return useColor ? `\u001b[${code}m${text}\u001b[0m` : text;
}

export const bold = (text: string) => paint(1, text);

let nextColor = 0;

/** A writer that prefixes each line with a padded (and, on a terminal, coloured) name. */
export function prefixedWriter(name: string, color = COLORS[nextColor++ % COLORS.length]) {
  const prefix = `${paint(color, name.padEnd(WIDTH))} |`;
  return (line: string) => process.stdout.write(`${prefix} ${line}\n`);
}

/** The launcher's own progress lines. */
export const say = prefixedWriter('start', 90);
