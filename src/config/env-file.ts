// Environment files (dotenv syntax): strict line check for clear errors, then dotenv for the values.
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { unsafeReason } from './permissions.js';
import dotenv from 'dotenv';
import { LifeboatError } from '../errors.js';
import { isSymlink } from '../storage/file-kind.js';

const ASSIGNMENT_RE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/;

// Reads an environment file; a missing file is an empty environment, a bad line is a CONFIG error.
export function readEnvFile(file: string, displayName: string): Record<string, string> {
  let text: string;
  try {
    const stats = statSync(file);
    const unsafe = unsafeReason(stats);
    if (unsafe) {
      throw new LifeboatError('UNSAFE_PERMISSIONS', `${displayName}: refused: ${unsafe}; it holds secrets: chmod 600 and chown it to root or to you`);
    }
    // A FIFO or device would block the read (or never end): only regular files hold settings.
    if (!stats.isFile() && !stats.isDirectory()) throw new LifeboatError('ENV_SYNTAX', `${displayName}: is not a regular file; an environment file holds KEY=VALUE lines`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof LifeboatError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && isSymlink(file)) {
      throw new LifeboatError('ENV_SYNTAX', `${displayName}: is a symlink to ${readlinkSync(file)}, which does not exist`, { hint: 'point it at the real file, or remove it' });
    }
    if (code === 'ENOENT') return {};
    if (code === 'EISDIR') throw new LifeboatError('ENV_SYNTAX', `${displayName}: is a directory, expected a dotenv file`);
    throw new LifeboatError('ENV_SYNTAX', `${displayName}: cannot be read (${code ?? String(error)})`, {
      hint: 'make it readable by the user running lifeboat',
      cause: error,
    });
  }
  return parseEnvText(text, displayName);
}

// Parses dotenv text after checking each logical line, so a typo names its file and line.
export function parseEnvText(text: string, displayName: string): Record<string, string> {
  if (text.includes('\0')) {
    throw new LifeboatError('ENV_SYNTAX', `${displayName}: contains NUL bytes; an environment file must be text (KEY=VALUE lines)`);
  }
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  let openQuote: { quote: string; line: number } | undefined;
  lines.forEach((line, index) => {
    if (openQuote) {
      if (closesQuote(line, openQuote.quote)) openQuote = undefined;
      return;
    }
    if (/^\s*(#.*)?$/.test(line)) return;
    const match = ASSIGNMENT_RE.exec(line);
    if (!match) {
      problems.push(`${displayName}:${index + 1}: expected KEY=VALUE, got ${JSON.stringify(line.slice(0, 60))}`);
      return;
    }
    const value = match[2];
    const quote = value[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      // dotenv reads \<quote> as a quote inside the value when a later line holds that quote, so the
      // lines in between silently become part of this value: refuse the ambiguity.
      if (value.length > 2 && value.trimEnd().endsWith(`\\${quote}`)) {
        problems.push(`${displayName}:${index + 1}: the value ends with \\${quote}, which dotenv may read as an escaped quote (taking the following lines into the value); remove the backslash, or leave the value unquoted`);
        return;
      }
      if (!closesQuote(value.slice(1), quote)) openQuote = { quote, line: index + 1 };
    }
  });
  if (openQuote) problems.push(`${displayName}:${openQuote.line}: quote ${openQuote.quote} is never closed`);
  if (problems.length > 0) {
    throw new LifeboatError('ENV_SYNTAX', problems.join('\n'), {
      problems,
      hint: 'each line is KEY=VALUE (KEY of letters, digits and _), a comment starting with #, or empty',
    });
  }
  return dotenv.parse(text);
}

// True when a (part of a) line holds an unescaped closing quote.
function closesQuote(text: string, quote: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && quote === '"') i++;
    else if (text[i] === quote) return true;
  }
  return false;
}

