// Environment files (dotenv syntax): strict line check for clear errors, then dotenv for the values.
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { unsafeReason } from '../files/permissions.js';
import dotenv from 'dotenv';
import { LifeboatError } from '../errors.js';
import { isSymlink } from '../files/file-kind.js';

const ASSIGNMENT_RE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/;

// Variables that change which program runs or what it loads (search paths, preloads, shell start-up
// files, interpreter options). An environment file can come back from a snapshot (it lies in the
// backed-up module folder), so it may not set them: they are ignored with a warning, and `check` fails.
const REDIRECTING_KEYS = new Set([
  'PATH', 'BASH_ENV', 'ENV', 'IFS', 'SHELLOPTS', 'BASHOPTS', 'CDPATH', 'GLOBIGNORE', 'PS4', 'PROMPT_COMMAND',
  'NODE_OPTIONS', 'NODE_PATH', 'PERL5LIB', 'PERLLIB', 'PERL5OPT', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP',
  'RUBYLIB', 'RUBYOPT', 'GCONV_PATH', 'LOCPATH', 'NLSPATH', 'HOSTALIASES', 'RESOLV_HOST_CONF', 'MALLOC_CONF',
  // Configuration files that load code or run statements: OpenSSL engines, Python's user site, the
  // database clients' option files (init-command), the home folder they are found in.
  'OPENSSL_CONF', 'OPENSSL_ENGINES', 'OPENSSL_MODULES', 'PYTHONUSERBASE', 'HOME', 'XDG_CONFIG_HOME',
  'MYSQL_HOME', 'MARIADB_HOME', 'MYSQL_TEST_LOGIN_FILE', 'PGSYSCONFDIR', 'PGSERVICEFILE',
]);
const REDIRECTING_PREFIXES = ['LD_', 'DYLD_', 'BASH_FUNC_'];

// True for a variable an environment file may not set (see REDIRECTING_KEYS).
export function isRedirectingKey(key: string): boolean {
  return REDIRECTING_KEYS.has(key) || REDIRECTING_PREFIXES.some((prefix) => key.startsWith(prefix));
}

// The keys readEnvFile left out of an environment it returned (for warnings and `check`).
const ignored = new WeakMap<Record<string, string>, string[]>();

// The redirecting keys an environment file set and readEnvFile ignored.
export function ignoredEnvKeys(env: Record<string, string>): string[] {
  return ignored.get(env) ?? [];
}

// Merges environments read by readEnvFile (later ones win), keeping the keys each one ignored.
export function mergeEnvFiles(...envs: Array<Record<string, string>>): Record<string, string> {
  const merged = Object.assign({}, ...envs) as Record<string, string>;
  ignored.set(merged, [...new Set(envs.flatMap((env) => ignored.get(env) ?? []))]);
  return merged;
}

// Why a key is ignored, and the fix.
export const IGNORED_KEY_REASON = "an environment file may not change which programs Lifeboat and its parts run or what they load (PATH, LD_*, BASH_ENV, NODE_OPTIONS, ...); remove the line (tools are found with Lifeboat's own PATH)";

// The run-time warning for one ignored key: the file, the key and the fix.
export function describeIgnoredKey(displayName: string, key: string): string {
  return `${displayName}: ${key} is ignored: ${IGNORED_KEY_REASON}`;
}

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
  const env = parseEnvText(text, displayName);
  const keys = Object.keys(env).filter(isRedirectingKey);
  for (const key of keys) delete env[key];
  ignored.set(env, keys);
  return env;
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

