// A YAML syntax error as the operator needs it: the file, line and column, the line itself with a caret
// under the column, and what is usually wrong there (indentation, a tab, a missing space after a colon).
import type { YAMLError } from 'yaml';

// `display:line:col: invalid YAML: message`, then the line and the caret, then the likely cause.
export function describeYamlError(text: string, error: YAMLError, display: string): string {
  const lines = text.split(/\r?\n/);
  let line = error.linePos?.[0].line ?? 1;
  let col = error.linePos?.[0].col ?? 1;
  // An unclosed bracket or quote is reported past the end of what was written: show the last line written.
  if (!lines[line - 1]?.trim()) {
    while (line > 1 && !lines[line - 1]?.trim()) line--;
    col = (lines[line - 1] ?? '').length + 1;
  }
  const source = lines[line - 1] ?? '';
  const message = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  const shown = (part: string) => part.replace(/\t/g, '\\t');
  const gutter = String(line);
  return [
    `${display}:${line}:${col}: invalid YAML: ${message}`,
    `  ${gutter} | ${shown(source)}`,
    `  ${' '.repeat(gutter.length)} | ${' '.repeat(shown(source.slice(0, col - 1)).length)}^`,
    `  likely cause: ${likelyCause(error, lines, line)}`,
  ].join('\n');
}

// What is usually wrong, from the error's code and the line it points at (or the one above it).
function likelyCause(error: YAMLError, lines: string[], line: number): string {
  const here = lines[line - 1] ?? '';
  const nearby = [here, lines[line - 2] ?? ''];
  if (error.code === 'TAB_AS_INDENT' || nearby.some((text) => /^\s*\t/.test(text))) {
    return 'a tab in the indentation (YAML indents with spaces only: replace the tab with spaces)';
  }
  const glued = nearby.map((text) => /^(\s*(?:-\s+)?)([A-Za-z0-9_.-]+):([^\s/:][^#]*?)\s*(?:#.*)?$/.exec(text)).find(Boolean);
  if (glued) return `a missing space after a colon (write \`${glued[2]}: ${glued[3]}\`)`;
  if (error.code === 'DUPLICATE_KEY') return 'the same key twice in one mapping (keep one of them)';
  if (error.code === 'MISSING_CHAR' || /end with a [\]}]/.test(error.message)) return 'a [, { or quote that is opened but not closed (close it)';
  if (error.code === 'BLOCK_AS_IMPLICIT_KEY' && /^\s*(?:-\s+)?[^\s:#]+:\s+[^'"\s][^#]*:\s/.test(here)) return 'a value holding ": " without quotes (write key: "a: b")';
  return 'indentation (keys of one mapping start in the same column, keys nested under one start further right; spaces only)';
}
