// A YAML syntax error as the operator needs it: the file, line and column, the line itself with a caret
// under the column, and what is usually wrong there (indentation, a tab, a missing space after a colon).
import { isScalar, LineCounter, visit, type Document, type YAMLError } from 'yaml';

// What describeYamlError needs of an error: the parser's, or one found in a parsed document below.
// `glued`: the text holding a colon without its space (gluedColon), for the likely cause.
type SyntaxProblem = Pick<YAMLError, 'message' | 'linePos'> & { code?: string; glued?: string };

// `display:line:col: invalid YAML: message`, then the line and the caret, then the likely cause.
export function describeYamlError(text: string, error: SyntaxProblem, display: string): string {
  const lines = text.split(/\r?\n/);
  let line = error.linePos?.[0].line ?? 1;
  let col = error.linePos?.[0].col ?? 1;
  // An unclosed bracket or quote is reported past the end of what was written: show the last line written.
  if (!lines[line - 1]?.trim()) {
    while (line > 1 && !lines[line - 1]?.trim()) line--;
    col = (lines[line - 1] ?? '').length + 1;
  }
  // An unclosed quote is reported where the parser gave up (a line or more below): show the quote that
  // opened it, the last one on the nearest line above with an odd number of them.
  const quote = /^Missing closing (["'])quote/.exec(error.message)?.[1];
  const opened = quote === undefined ? undefined : openingQuote(lines, line, quote);
  if (opened) [line, col] = opened;
  // "Nested mappings are not allowed in compact mappings" points at the value before a line indented too
  // far (`url: /x` above `     compression: none`): the deeper line is the one to fix.
  const next = lines[line] ?? '';
  if (error.code === 'BLOCK_AS_IMPLICIT_KEY' && /compact mappings/.test(error.message) && indentOf(next) > indentOf(lines[line - 1] ?? '') && /^\s*[^\s#][^#]*:(\s|$)/.test(next)) {
    line++;
    col = indentOf(next) + 1;
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

// The line and column (1-based) of the quote left open at or above `line`, if one is found.
function openingQuote(lines: string[], line: number, quote: string): [number, number] | undefined {
  for (let at = line; at >= 1; at--) {
    const text = (lines[at - 1] ?? '').replace(quote === '"' ? /\\./g : /''/g, '  ');
    const positions = [...text].flatMap((char, index) => (char === quote ? [index] : []));
    if (positions.length % 2 === 1) return [at, positions.at(-1)! + 1];
  }
  return undefined;
}

function indentOf(text: string): number {
  return /^ */.exec(text)![0].length;
}

// What is usually wrong, from the error's code and the line it points at (or the one above it).
function likelyCause(error: SyntaxProblem, lines: string[], line: number): string {
  const here = lines[line - 1] ?? '';
  const nearby = [here, lines[line - 2] ?? ''];
  if (error.code === 'TAB_AS_INDENT' || nearby.some((text) => /^\s*\t/.test(text))) {
    return 'a tab in the indentation (YAML indents with spaces only: replace the tab with spaces)';
  }
  const glued = nearby.map((text) => /^(\s*(?:-\s+)?)([A-Za-z0-9_.-]+):([^\s/:][^#]*?)\s*(?:#.*)?$/.exec(text)).find(Boolean);
  if (glued) return `a missing space after a colon (write \`${glued[2]}: ${glued[3]}\`)`;
  // Inside a flow mapping (`retention: { keepLast:7 }`) the line does not show it; the key does.
  const [key, ...value] = error.glued?.split(':') ?? [];
  if (key && value.length) return `a missing space after a colon (write \`${key}: ${value.join(':')}\`)`;
  if (error.code === 'DUPLICATE_KEY') return 'the same key twice in one mapping (keep one of them)';
  if (error.code === 'MISSING_CHAR' || /end with a [\]}]/.test(error.message)) return 'a [, { or quote that is opened but not closed (close it)';
  if (error.code === 'BLOCK_AS_IMPLICIT_KEY' && /^\s*(?:-\s+)?[^\s:#]+:\s+[^'"\s][^#]*:\s/.test(here)) return 'a value holding ": " without quotes (write key: "a: b")';
  return 'indentation (keys of one mapping start in the same column, keys nested under one start further right; spaces only)';
}

// A colon without its space parses, but not as meant: `service:{ systemd: x }` is one key holding a
// colon, and `keepLast:3` alone on its line below `retention:` is a string. No key of Lifeboat's files
// holds a colon, so either is reported as a syntax error (a URL value such as s3:https://... is not).
export function gluedColon(text: string, doc: Document): SyntaxProblem | undefined {
  const lines = new LineCounter();
  let offset = 0;
  for (const line of text.split('\n')) {
    lines.addNewLine(offset);
    offset += line.length + 1;
  }
  let found: SyntaxProblem | undefined;
  const glued = (value: unknown) => typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*:[^\s]/.test(value) && !value.includes('://');
  visit(doc, {
    Pair(_, pair) {
      const key = isScalar(pair.key) && pair.key.type === 'PLAIN' && typeof pair.key.value === 'string' && pair.key.value.includes(':') ? pair.key : undefined;
      const value = isScalar(pair.value) && pair.value.type === 'PLAIN' && glued(pair.value.value) && isScalar(pair.key) && pair.key.range && pair.value.range && lines.linePos(pair.value.range[0]).line > lines.linePos(pair.key.range[0]).line ? pair.value : undefined;
      const node = key ?? value;
      if (!node?.range) return undefined;
      found = { message: key ? `the key "${String(key.value)}" holds a colon` : `"${String(node.value)}" is read as text, not as a key and its value`, linePos: [lines.linePos(node.range[0])], glued: String(node.value) };
      return visit.BREAK;
    },
  });
  return found;
}
