// `lifeboat run-parts`: a drop-in for Debian's run-parts 5.x (debianutils), checked differentially
// against /usr/bin/run-parts 5.7 (test/parts/run-parts.test.ts). Same options (parsed like
// getopt_long, abbreviations and permutation included), same name rules and byte order, same
// messages on the same streams, same exit codes. It starts fast: only node: built-ins are imported.
//
// Internally every name and path is a "byte string" (one char per byte, Buffer 'latin1'), so
// output is byte-exact and --regex works on bytes as glibc's regexec does in the C locale.
//
// Deliberate differences from Debian's binary (all documented where they happen):
//  - SIGINT/SIGTERM are forwarded to the running script; see runAll().
//  - `--debug` prints "." and ".." first (Node cannot tell where readdir returned them).
//  - argv is decoded by Node as UTF-8, so non-UTF-8 bytes in arguments are not preserved, and a
//    part whose name is not valid UTF-8 is listed byte-exactly but cannot be executed exactly.
//  - libuv resets signal dispositions in children, so an ignored SIGINT is not inherited.
import type { ChildProcess, spawn as spawnType } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants as fsc,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
  opendirSync,
} from 'node:fs';
import { constants as osc } from 'node:os';
import { isatty } from 'node:tty';
import { compareBytes, isLsbName, DEFAULT_NAME_RE, LSB_HIER_RE, LSB_EXCLUDE_RE } from '../parts/names.js';

const USAGE = `Usage: run-parts [OPTION]... DIRECTORY
      --test          print script names which would run, but don't run them.
      --list          print names of all valid files (can not be used with
                      --test)
  -v, --verbose       print script names before running them.
  -d, --debug         print script names while checking them.
      --report        print script names if they produce output.
      --reverse       reverse execution order of scripts.
      --exit-on-error exit as soon as a script returns with a non-zero exit
                      code.
      --stdin         multiplex stdin to scripts being run, using temporary file
      --lsbsysinit    validate filenames based on LSB sysinit specs.
      --new-session   run each script in a separate process session
      --regex=PATTERN validate filenames based on POSIX ERE pattern PATTERN.
  -u, --umask=UMASK   sets umask to UMASK (octal), default is 022.
  -a, --arg=ARGUMENT  pass ARGUMENT to scripts, use once for each argument.
  -V, --version       output version information and exit.
  -h, --help          display this help and exit.
`;

const VERSION = `Debian run-parts program, version 5.7
Copyright (C) 1994 Ian Jackson, Copyright (C) 1996 Jeff Noxon.
Copyright (C) 1996,1997,1998,1999 Guy Maor
Copyright (C) 2002-2020 Clint Adams
This is free software; see the GNU General Public License version 2
or later for copying conditions.  There is NO warranty.
`;

const TRY = "Try `run-parts --help' for more information.\n";

// ---------------------------------------------------------------------------------------------
// Output: byte strings to fds 1/2, synchronously (never through process.stdout, which would make
// the fd non-blocking and asynchronous).

/** A JS (UTF-16) string as a byte string. */
const bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
/** A byte string as a JS string for APIs that only take strings (spawn). */
const unbytes = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
const B = (s: string): Buffer => Buffer.from(s, 'latin1');

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const brokenFd = new Set<number>();
function writeAll(fd: number, data: Buffer): void {
  if (brokenFd.has(fd)) return;
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') sleepMs(1);
      else if (code !== 'EINTR') {
        // EPIPE and friends: Debian's binary would die of SIGPIPE or drop the output; drop it.
        brokenFd.add(fd);
        return;
      }
    }
  }
}

const err = (s: string): void => writeAll(2, B(s));
/** run-parts' error(): "run-parts: " + message + "\n" on stderr. */
const error = (s: string): void => err(`run-parts: ${s}\n`);

/** stdout as stdio would buffer it: line-buffered on a tty, else 4096-byte blocks until exit/fflush. */
class Stdout {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly lineMode = isatty(1);
  write(s: string): void {
    const b = B(s);
    if (this.lineMode) return writeAll(1, b);
    this.chunks.push(b);
    this.size += b.length;
    if (this.size >= 4096) {
      const all = Buffer.concat(this.chunks);
      const keep = all.length % 4096;
      writeAll(1, all.subarray(0, all.length - keep));
      this.chunks = keep ? [all.subarray(all.length - keep)] : [];
      this.size = keep;
    }
  }
  flush(): void {
    if (this.size) writeAll(1, Buffer.concat(this.chunks));
    this.chunks = [];
    this.size = 0;
  }
}

// glibc's strerror() texts for the errors run-parts can meet (Node only has libuv's lower-case ones).
const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long',
  ENOEXEC: 'Exec format error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ETXTBSY: 'Text file busy',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
  EOVERFLOW: 'Value too large for defined data type',
  ELIBBAD: 'Accessing a corrupted shared library',
  ESTALE: 'Stale file handle',
};
function strerror(e: unknown): string {
  const ne = e as NodeJS.ErrnoException;
  if (ne && ne.code && STRERROR[ne.code]) return STRERROR[ne.code]!;
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(String(ne?.message ?? e));
  const text = m ? m[1]! : String(ne?.code ?? e);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------------------------------------
// POSIX ERE (glibc regcomp(REG_EXTENDED), C locale) -> JS RegExp over byte strings.
// A port of glibc's parser (regcomp.c): same accepted syntax (GNU \w \s \b \< \> \` \' and
// back-references included), same error, detected in the same order, with regerror()'s text.
// Matching semantics only need to agree on match/no-match (REG_NOSUB), where leftmost-longest
// and leftmost-first agree.

class RegError extends Error {}
const REG = {
  BADPAT: 'Invalid regular expression',
  ECOLLATE: 'Invalid collation character',
  ECTYPE: 'Invalid character class name',
  EESCAPE: 'Trailing backslash',
  ESUBREG: 'Invalid back reference',
  EBRACK: 'Unmatched [, [^, [:, [., or [=',
  EPAREN: 'Unmatched ( or \\(',
  EBRACE: 'Unmatched \\{',
  BADBR: 'Invalid content of \\{\\}',
  ERANGE: 'Invalid range end',
  BADRPT: 'Invalid preceding regular expression',
  ESIZE: 'Regular expression too big',
};
const RE_DUP_MAX = 0x7fff;

type TokType =
  | 'CHAR' | 'ANCHOR' | 'BACKREF' | 'ALT' | 'STAR' | 'PLUS' | 'QUESTION' | 'OPEN_DUP' | 'CLOSE_DUP'
  | 'OPEN_SUB' | 'CLOSE_SUB' | 'OPEN_BRACKET' | 'PERIOD' | 'WORD' | 'NOTWORD' | 'SPACE' | 'NOTSPACE'
  | 'BACKSLASH' | 'END';
interface Tok {
  type: TokType;
  c: string;
  len: number;
}

const CLASS_TEST: Record<string, (c: number) => boolean> = {
  alpha: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  upper: (c) => c >= 65 && c <= 90,
  lower: (c) => c >= 97 && c <= 122,
  digit: (c) => c >= 48 && c <= 57,
  xdigit: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
  space: (c) => c === 32 || (c >= 9 && c <= 13),
  print: (c) => c >= 32 && c <= 126,
  punct: (c) => c >= 33 && c <= 126 && !CLASS_TEST.alnum!(c),
  graph: (c) => c >= 33 && c <= 126,
  cntrl: (c) => c < 32 || c === 127,
  blank: (c) => c === 32 || c === 9,
  alnum: (c) => CLASS_TEST.alpha!(c) || CLASS_TEST.digit!(c),
};

const hex = (c: number): string => '\\x' + c.toString(16).padStart(2, '0');
const lit = (c: number): string => (CLASS_TEST.alnum!(c) ? String.fromCharCode(c) : hex(c));

/** A 256-entry byte set as a JS character class. */
function classOf(set: boolean[]): string {
  let s = '';
  for (let i = 0; i < 256; i++) {
    if (!set[i]) continue;
    let j = i;
    while (j + 1 < 256 && set[j + 1]) j++;
    s += j === i ? hex(i) : j === i + 1 ? hex(i) + hex(j) : `${hex(i)}-${hex(j)}`;
    i = j;
  }
  return `[${s}]`;
}
const classSet = (name: string, negate: boolean, extra = ''): string => {
  const set: boolean[] = [];
  for (let c = 0; c < 256; c++) set[c] = (CLASS_TEST[name]!(c) || extra.includes(String.fromCharCode(c))) !== negate;
  return classOf(set);
};

/** Compile a POSIX ERE given as a byte string; throws RegError with glibc's message. */
export function compileEre(pattern: string): RegExp {
  let pos = 0;
  let nsub = 0;
  const completed = new Set<number>();
  const removed = new Set<number>();
  const src = pattern;

  function peek(): Tok {
    if (pos >= src.length) return { type: 'END', c: '', len: 0 };
    const c = src[pos]!;
    if (c === '\\') {
      if (pos + 1 >= src.length) return { type: 'BACKSLASH', c, len: 1 };
      const c2 = src[pos + 1]!;
      const t = (type: TokType): Tok => ({ type, c: c2, len: 2 });
      if (c2 >= '1' && c2 <= '9') return t('BACKREF');
      switch (c2) {
        case '<': case '>': case 'b': case 'B': case '`': case "'":
          return t('ANCHOR');
        case 'w': return t('WORD');
        case 'W': return t('NOTWORD');
        case 's': return t('SPACE');
        case 'S': return t('NOTSPACE');
        default: return t('CHAR');
      }
    }
    const t = (type: TokType): Tok => ({ type, c, len: 1 });
    switch (c) {
      case '|': return t('ALT');
      case '*': return t('STAR');
      case '+': return t('PLUS');
      case '?': return t('QUESTION');
      case '{': return t('OPEN_DUP');
      case '}': return t('CLOSE_DUP');
      case '(': return t('OPEN_SUB');
      case ')': return t('CLOSE_SUB');
      case '[': return t('OPEN_BRACKET');
      case '.': return t('PERIOD');
      case '^': case '$': return t('ANCHOR');
      default: return t('CHAR');
    }
  }
  let tok: Tok = { type: 'END', c: '', len: 0 };
  const cur = (): Tok => tok; // (a call, so that TypeScript does not narrow across fetch())
  function fetch(): void {
    tok = peek();
    pos += tok.len;
  }

  // Expression results: JS source, and whether a quantifier can follow it directly.
  interface Expr {
    src: string;
    quantified: boolean;
  }

  function parseRegExp(nest: number): string {
    let out = parseBranch(nest);
    while (cur().type === 'ALT') {
      fetch();
      let branch = '';
      if (cur().type !== 'ALT' && cur().type !== 'END' && (nest === 0 || cur().type !== 'CLOSE_SUB')) branch = parseBranch(nest);
      out += '|' + branch;
    }
    return out;
  }

  function parseBranch(nest: number): string {
    let out = parseExpression(nest)?.src ?? '';
    while (cur().type !== 'ALT' && cur().type !== 'END' && (nest === 0 || cur().type !== 'CLOSE_SUB')) {
      out += parseExpression(nest)?.src ?? '';
    }
    return out;
  }

  function parseExpression(nest: number): Expr | null {
    let e: Expr;
    const firstGroup = nsub;
    switch (cur().type) {
      case 'CHAR':
      case 'CLOSE_DUP':
        e = { src: lit(cur().c.charCodeAt(0)), quantified: false };
        break;
      case 'CLOSE_SUB': // only reached at nest 0: an unmatched ')' is an ordinary character
        e = { src: lit(41), quantified: false };
        break;
      case 'OPEN_SUB': {
        const idx = nsub++;
        fetch();
        let inner = '';
        if (cur().type !== 'CLOSE_SUB') {
          inner = parseRegExp(nest + 1);
          if (cur().type !== 'CLOSE_SUB') throw new RegError(REG.EPAREN);
        }
        if (idx <= 8) completed.add(idx);
        e = { src: `(${inner})`, quantified: false };
        break;
      }
      case 'OPEN_BRACKET':
        e = { src: parseBracket(), quantified: false };
        break;
      case 'BACKREF': {
        const idx = cur().c.charCodeAt(0) - 49;
        if (!completed.has(idx)) throw new RegError(REG.ESUBREG);
        // A group repeated {0} is dropped by glibc: a reference to it can never match.
        e = { src: removed.has(idx) ? '(?!)' : `(?:\\${idx + 1})`, quantified: false };
        break;
      }
      case 'OPEN_DUP':
      case 'STAR':
      case 'PLUS':
      case 'QUESTION':
        throw new RegError(REG.BADRPT);
      case 'ANCHOR': {
        const a: Record<string, string> = {
          '^': '^', $: '$', '`': '^', "'": '$', '<': '\\b(?=\\w)', '>': '\\b(?<=\\w)', b: '\\b', B: '\\B',
        };
        const s = a[cur().c]!;
        // Anchors take no repetition: the next '*' starts an expression and is an error ("^*").
        fetch();
        return { src: `(?:${s})`, quantified: true };
      }
      case 'PERIOD':
        e = { src: '[^\\x00]', quantified: false };
        break;
      case 'WORD':
      case 'NOTWORD':
        e = { src: classSet('alnum', cur().type === 'NOTWORD', '_'), quantified: false };
        break;
      case 'SPACE':
      case 'NOTSPACE':
        e = { src: classSet('space', cur().type === 'NOTSPACE'), quantified: false };
        break;
      case 'ALT':
      case 'END':
        return null;
      case 'BACKSLASH':
        throw new RegError(REG.EESCAPE);
    }
    fetch();
    while (cur().type === 'STAR' || cur().type === 'PLUS' || cur().type === 'QUESTION' || cur().type === 'OPEN_DUP') {
      e = parseDup(e);
      if (e.src.endsWith('{0}')) for (let g = firstGroup; g < nsub; g++) removed.add(g);
    }
    return e;
  }

  /** glibc fetch_number(): -1 = no digits, -2 = invalid or end of pattern. */
  function fetchNumber(): number {
    let num = -1;
    for (;;) {
      fetch();
      if (cur().type === 'END') return -2;
      if (cur().type === 'CLOSE_DUP' || cur().c === ',') break;
      const c = cur().c;
      num =
        cur().type !== 'CHAR' || c < '0' || c > '9' || num === -2
          ? -2
          : num === -1
            ? c.charCodeAt(0) - 48
            : Math.min(RE_DUP_MAX + 1, num * 10 + c.charCodeAt(0) - 48);
    }
    return num;
  }

  function parseDup(elem: Expr): Expr {
    let q: string;
    if (cur().type === 'OPEN_DUP') {
      let start = fetchNumber();
      let end = 0;
      if (start === -1) {
        if (cur().type === 'CHAR' && cur().c === ',') start = 0; // "{,m}" is "{0,m}"
        else throw new RegError(REG.BADBR);
      }
      if (start !== -2) {
        end = cur().type === 'CLOSE_DUP' ? start : cur().type === 'CHAR' && cur().c === ',' ? fetchNumber() : -2;
      }
      if (start === -2 || end === -2) throw new RegError(cur().type === 'END' ? REG.EBRACE : REG.BADBR);
      if ((end !== -1 && start > end) || cur().type !== 'CLOSE_DUP') throw new RegError(REG.BADBR);
      if (RE_DUP_MAX < (end === -1 ? start : end)) throw new RegError(REG.ESIZE);
      q = end === -1 ? `{${start},}` : start === end ? `{${start}}` : `{${start},${end}}`;
    } else {
      q = cur().type === 'STAR' ? '*' : cur().type === 'PLUS' ? '+' : '?';
    }
    fetch();
    return { src: (elem.quantified ? `(?:${elem.src})` : elem.src) + q, quantified: true };
  }

  // Bracket expressions: the C locale has no multi-char collating elements and no equivalence
  // classes beyond single bytes; '\' is literal inside brackets.
  type BTok = { type: 'CHAR' | 'RANGE' | 'CLOSE' | 'NONMATCH' | 'OPEN_COLL' | 'OPEN_EQUIV' | 'OPEN_CLASS' | 'END'; c: string; len: number };
  type BElem = { type: 'SB' | 'COLL' | 'EQUIV' | 'CLASS'; ch: string; name: string };
  function peekBracket(): BTok {
    if (pos >= src.length) return { type: 'END', c: '', len: 0 };
    const c = src[pos]!;
    if (c === '[') {
      const c2 = pos + 1 < src.length ? src[pos + 1]! : '';
      if (c2 === '.') return { type: 'OPEN_COLL', c: c2, len: 2 };
      if (c2 === '=') return { type: 'OPEN_EQUIV', c: c2, len: 2 };
      if (c2 === ':') return { type: 'OPEN_CLASS', c: c2, len: 2 };
      return { type: 'CHAR', c, len: 1 };
    }
    if (c === '-') return { type: 'RANGE', c, len: 1 };
    if (c === ']') return { type: 'CLOSE', c, len: 1 };
    if (c === '^') return { type: 'NONMATCH', c, len: 1 };
    return { type: 'CHAR', c, len: 1 };
  }
  function parseBracketSymbol(t: BTok): BElem {
    if (pos >= src.length) throw new RegError(REG.EBRACK);
    let name = '';
    for (let i = 0; ; i++) {
      if (i >= 32) throw new RegError(REG.EBRACK);
      const ch = src[pos++]!;
      if (pos >= src.length) throw new RegError(REG.EBRACK);
      if (ch === t.c && src[pos] === ']') break;
      name += ch;
    }
    pos++;
    return { type: t.type === 'OPEN_COLL' ? 'COLL' : t.type === 'OPEN_EQUIV' ? 'EQUIV' : 'CLASS', ch: '', name };
  }
  function parseBracketElement(t: BTok, acceptHyphen: boolean): BElem {
    pos += t.len;
    if (t.type === 'OPEN_COLL' || t.type === 'OPEN_EQUIV' || t.type === 'OPEN_CLASS') return parseBracketSymbol(t);
    if (t.type === 'RANGE' && !acceptHyphen && peekBracket().type !== 'CLOSE') throw new RegError(REG.ERANGE);
    return { type: 'SB', ch: t.c, name: '' };
  }
  function parseBracket(): string {
    const set: boolean[] = new Array(256).fill(false);
    let nonMatch = false;
    let t = peekBracket();
    if (t.type === 'END') throw new RegError(REG.BADPAT);
    if (t.type === 'NONMATCH') {
      nonMatch = true;
      pos += t.len;
      t = peekBracket();
      if (t.type === 'END') throw new RegError(REG.BADPAT);
    }
    if (t.type === 'CLOSE') t = { ...t, type: 'CHAR' };
    const single = (el: BElem): number => {
      if (el.type === 'SB') return el.ch.charCodeAt(0);
      if (el.name.length !== 1) throw new RegError(REG.ECOLLATE);
      return el.name.charCodeAt(0);
    };
    let first = true;
    for (;;) {
      const start = parseBracketElement(t, first);
      first = false;
      t = peekBracket();
      let t2: BTok | null = null;
      if (start.type !== 'CLASS' && start.type !== 'EQUIV') {
        if (t.type === 'END') throw new RegError(REG.EBRACK);
        if (t.type === 'RANGE') {
          pos += t.len;
          const n = peekBracket();
          if (n.type === 'END') throw new RegError(REG.EBRACK);
          if (n.type === 'CLOSE') {
            pos -= t.len; // a trailing '-' is an ordinary character
            t = { ...t, type: 'CHAR' };
          } else t2 = n;
        }
      }
      if (t2) {
        const end = parseBracketElement(t2, true);
        t = peekBracket();
        if (start.type === 'EQUIV' || start.type === 'CLASS' || end.type === 'EQUIV' || end.type === 'CLASS') {
          throw new RegError(REG.ERANGE);
        }
        if ((start.type === 'COLL' && start.name.length > 1) || (end.type === 'COLL' && end.name.length > 1)) {
          throw new RegError(REG.ECOLLATE);
        }
        const a = single(start);
        const b = single(end);
        if (a > b) throw new RegError(REG.ERANGE);
        for (let c = a; c <= b; c++) set[c] = true;
      } else if (start.type === 'CLASS') {
        const test = CLASS_TEST[start.name];
        if (!test) throw new RegError(REG.ECTYPE);
        for (let c = 0; c < 256; c++) if (test(c)) set[c] = true;
      } else {
        set[single(start)] = true;
      }
      if (t.type === 'END') throw new RegError(REG.EBRACK);
      if (t.type === 'CLOSE') break;
    }
    pos += t.len;
    if (nonMatch) for (let c = 0; c < 256; c++) set[c] = !set[c];
    return classOf(set);
  }

  fetch();
  const body = parseRegExp(0);
  return new RegExp(body);
}

// ---------------------------------------------------------------------------------------------
// Option parsing, as glibc getopt_long(argc, argv, "u:ha:vV", longopts) does it.

interface LongOpt {
  name: string;
  hasArg: boolean;
  id: string;
}
// Table order matters: it is the order of the "possibilities" listed for ambiguous abbreviations.
const LONGOPTS: LongOpt[] = [
  { name: 'test', hasArg: false, id: 'test' },
  { name: 'list', hasArg: false, id: 'list' },
  { name: 'verbose', hasArg: false, id: 'v' },
  { name: 'debug', hasArg: false, id: 'debug' },
  { name: 'report', hasArg: false, id: 'report' },
  { name: 'reverse', hasArg: false, id: 'reverse' },
  { name: 'umask', hasArg: true, id: 'u' },
  { name: 'arg', hasArg: true, id: 'a' },
  { name: 'help', hasArg: false, id: 'h' },
  { name: 'version', hasArg: false, id: 'V' },
  { name: 'lsbsysinit', hasArg: false, id: 'lsbsysinit' },
  { name: 'regex', hasArg: true, id: 'regex' },
  { name: 'stdin', hasArg: false, id: 'stdin' },
  { name: 'exit-on-error', hasArg: false, id: 'exit-on-error' },
  { name: 'new-session', hasArg: false, id: 'new-session' },
];
const SHORTOPTS: Record<string, boolean> = { u: true, h: false, a: true, v: false, V: false };

type Parsed = { id: string; arg?: string } | { error: string };

/** getopt_long with GNU permutation: yields options in order; operands are collected. */
function* getopt(argv: string[], operands: string[]): Generator<Parsed> {
  const posixly = process.env.POSIXLY_CORRECT !== undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      return;
    }
    if (a.length < 2 || a[0] !== '-') {
      if (posixly) {
        operands.push(...argv.slice(i));
        return;
      }
      operands.push(a);
      continue;
    }
    if (a[1] === '-') {
      const body = a.slice(2);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      let found = LONGOPTS.find((o) => o.name === name);
      if (!found) {
        const cands = LONGOPTS.filter((o) => o.name.startsWith(name));
        if (cands.length > 1) {
          yield {
            error: `run-parts: option '--${name}' is ambiguous; possibilities:${cands.map((o) => ` '--${o.name}'`).join('')}\n`,
          };
          continue;
        }
        found = cands[0];
      }
      if (!found) {
        yield { error: `run-parts: unrecognized option '--${body}'\n` };
        continue;
      }
      if (eq >= 0) {
        if (!found.hasArg) {
          yield { error: `run-parts: option '--${found.name}' doesn't allow an argument\n` };
          continue;
        }
        yield { id: found.id, arg: body.slice(eq + 1) };
      } else if (found.hasArg) {
        if (i + 1 >= argv.length) {
          yield { error: `run-parts: option '--${found.name}' requires an argument\n` };
          continue;
        }
        yield { id: found.id, arg: argv[++i]! };
      } else yield { id: found.id };
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (!(c in SHORTOPTS)) {
        yield { error: `run-parts: invalid option -- '${c}'\n` };
        continue;
      }
      if (!SHORTOPTS[c]) {
        yield { id: c };
        continue;
      }
      if (j + 1 < a.length) yield { id: c, arg: a.slice(j + 1) };
      else if (i + 1 < argv.length) yield { id: c, arg: argv[++i]! };
      else yield { error: `run-parts: option requires an argument -- '${c}'\n` };
      break;
    }
  }
}

/** sscanf(s, "%o", &int) plus run-parts' range check; null = "bad umask value". */
export function parseUmask(s: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-7]+)/.exec(s);
  if (!m) return null;
  let v = BigInt('0o' + m[2]);
  const max = (1n << 64n) - 1n;
  if (v > max) v = max; // strtoul saturates at ULONG_MAX
  if (m[1] === '-') v = (max + 1n - v) & max;
  const asInt = Number(BigInt.asIntN(32, v)); // stored into an int
  return asInt < 0 || asInt > 0o7777 ? null : asInt;
}

// ---------------------------------------------------------------------------------------------
// Running.

interface Settings {
  test: boolean;
  list: boolean;
  verbose: boolean;
  debug: boolean;
  report: boolean;
  reverse: boolean;
  exitOnError: boolean;
  stdin: boolean;
  newSession: boolean;
  args: string[]; // JS strings, for spawn
  argsBytes: string[]; // the same as byte strings, for messages
}

/** Would execve() fail with ENOEXEC (glibc's execvp, used by libuv, would then run /bin/sh on it)? */
function isExecFormatError(path: Buffer): boolean {
  let head: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(256);
      head = head.subarray(0, readSync(fd, head, 0, 256, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false; // unreadable (execute-only): let the kernel decide
  }
  if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) return false; // "#!"
  if (head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46) return false; // ELF
  return !binfmtMiscMatches(path, head);
}

let binfmt: { offset: number; magic?: Buffer; mask?: Buffer; ext?: string }[] | null = null;
function binfmtMiscMatches(path: Buffer, head: Buffer): boolean {
  if (!binfmt) {
    binfmt = [];
    const dir = '/proc/sys/fs/binfmt_misc';
    try {
      if (readFileSync(`${dir}/status`, 'utf8').trim() === 'enabled') {
        for (const e of readdirSync(dir)) {
          if (e === 'status' || e === 'register') continue;
          const lines = readFileSync(`${dir}/${e}`, 'utf8').split('\n');
          if (lines[0] !== 'enabled') continue;
          const get = (k: string) => lines.find((l) => l.startsWith(k + ' '))?.slice(k.length + 1);
          const ext = get('extension');
          const magic = get('magic');
          const mask = get('mask');
          binfmt.push({
            offset: Number(get('offset') ?? 0),
            ...(ext !== undefined ? { ext: ext.replace(/^\./, '') } : {}),
            ...(magic !== undefined ? { magic: Buffer.from(magic, 'hex') } : {}),
            ...(mask !== undefined ? { mask: Buffer.from(mask, 'hex') } : {}),
          });
        }
      }
    } catch {
      // not mounted: only #! and ELF are executable
    }
  }
  const p = path.toString('latin1');
  for (const f of binfmt) {
    if (f.ext !== undefined) {
      const dot = p.lastIndexOf('.');
      if (dot >= 0 && p.slice(dot + 1) === bytes(f.ext)) return true;
    } else if (f.magic) {
      if (head.length < f.offset + f.magic.length) continue;
      let ok = true;
      for (let i = 0; i < f.magic.length && ok; i++) {
        const m = f.mask ? f.mask[i]! : 0xff;
        ok = (head[f.offset + i]! & m) === f.magic[i];
      }
      if (ok) return true;
    }
  }
  return false;
}

let spawn: typeof spawnType;

const signum = (sig: string): number => (osc.signals as Record<string, number>)[sig] ?? 0;

export async function runPartsCommand(argv: string[]): Promise<number> {
  process.umask(0o022);
  const st: Settings = {
    test: false, list: false, verbose: false, debug: false, report: false, reverse: false,
    exitOnError: false, stdin: false, newSession: false, args: [], argsBytes: [],
  };
  let mode: 'normal' | 'ere' | 'lsb' = 'normal';
  let customEre = '';
  const operands: string[] = [];
  for (const o of getopt(argv, operands)) {
    if ('error' in o) {
      err(bytes(o.error) + TRY);
      return 1;
    }
    switch (o.id) {
      case 'test': st.test = true; break;
      case 'list': st.list = true; break;
      case 'v': st.verbose = true; break;
      case 'debug': st.debug = true; break;
      case 'report': st.report = true; break;
      case 'reverse': st.reverse = true; break;
      case 'lsbsysinit': mode = 'lsb'; break;
      case 'regex': mode = 'ere'; customEre = o.arg!; break;
      case 'stdin': st.stdin = true; break;
      case 'exit-on-error': st.exitOnError = true; break;
      case 'new-session': st.newSession = true; break;
      case 'u': {
        const mask = parseUmask(o.arg!);
        if (mask === null) {
          error('bad umask value');
          return 1;
        }
        process.umask(mask);
        break;
      }
      case 'a': st.args.push(o.arg!); st.argsBytes.push(bytes(o.arg!)); break;
      case 'h': err(USAGE); return 0;
      case 'V': writeAll(1, B(VERSION)); return 0;
    }
  }
  if (operands.length !== 1) {
    error('missing operand');
    err(TRY);
    return 1;
  }
  if (st.list && st.test) {
    error('--list and --test can not be used together');
    err(TRY);
    return 1;
  }
  let valid: (name: string) => boolean;
  if (mode === 'ere') {
    let re: RegExp;
    try {
      re = compileEre(bytes(customEre));
    } catch (e) {
      if (!(e instanceof RegError)) throw e;
      err(`Unable to build regexp: ${e.message}\n`);
      return 1;
    }
    valid = (n) => re.test(n);
  } else valid = mode === 'lsb' ? isLsbName : (n) => DEFAULT_NAME_RE.test(n);
  return runAll(st, bytes(operands[0]!), valid, mode);
}

function debugLine(name: string, mode: 'normal' | 'ere' | 'lsb', ok: boolean): string {
  const pf = (b: boolean) => (b ? 'pass' : 'fail');
  if (mode === 'ere') return `"${name}": customre ${pf(ok)}\n`;
  if (mode === 'normal') return `"${name}": classicalre ${pf(ok)}\n`;
  return LSB_HIER_RE.test(name) ? `"${name}": hierre pass, excsre ${pf(!LSB_EXCLUDE_RE.test(name))}\n` : `"${name}": tradre ${pf(ok)}\n`;
}

async function runAll(st: Settings, dir: string, valid: (n: string) => boolean, mode: 'normal' | 'ere' | 'lsb'): Promise<number> {
  // scandir(dir, valid_name, alphasort)
  let entries: string[];
  try {
    if (st.debug) {
      entries = [];
      const d = opendirSync(B(dir), { encoding: 'buffer' as BufferEncoding });
      for (let e; (e = d.readSync()); ) entries.push((e.name as unknown as Buffer).toString('latin1'));
      d.closeSync();
    } else {
      entries = (readdirSync(B(dir), { encoding: 'buffer' }) as Buffer[]).map((b) => b.toString('latin1'));
    }
  } catch (e) {
    error(`failed to open directory ${dir}: ${strerror(e)}`);
    return 1;
  }
  const names: string[] = [];
  if (st.debug) for (const n of ['.', '..']) err(debugLine(n, mode, valid(n)));
  for (const n of entries) {
    const ok = valid(n);
    if (st.debug) err(debugLine(n, mode, ok));
    if (ok) names.push(n);
  }
  // "." and ".." can only pass a custom --regex, and are directories: skipped below anyway.
  names.sort(compareBytes);
  if (st.reverse) names.reverse();

  const out = new Stdout();
  let stdinFd = -1;
  let stdinPath = '';
  if (st.stdin) {
    const r = copyStdin();
    if (!r) {
      error('run-parts: failed to copy content of stdin\n');
      return 1;
    }
    [stdinFd, stdinPath] = r;
  }

  // Signals. Debian's run-parts does not handle SIGINT/SIGTERM: it dies at once and leaves the
  // running script behind (it only gets the signal too when it came from the terminal to the
  // whole process group). We forward the signal to the running script, wait for it, report its
  // end exactly as run-parts reports a script death ("... exited because of uncaught signal 15",
  // or "... exited with return code N" if it trapped the signal), run nothing more, and then die
  // of that same signal, so that our caller sees what it would have seen from Debian's run-parts
  // (WIFSIGNALED, i.e. 130/143 in a shell) -- only after the script got the chance to clean up.
  // Handlers are installed only while scripts may run; --test/--list keep the default disposition.
  let pendingSignal: NodeJS.Signals | null = null;
  let current: ChildProcess | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    pendingSignal ??= sig;
    if (current && current.exitCode === null && current.signalCode === null) current.kill(sig);
  };
  const running = !st.test && !st.list;
  if (running) {
    // Loaded only when scripts will run: it is the costliest import (~4 ms) for --test/--list.
    spawn = (await import('node:child_process')).spawn;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  let exitstatus = 0;
  const loop = async (): Promise<number> => {
    for (const name of names) {
      if (pendingSignal) break;
      const path = `${dir}/${name}`;
      const pb = B(path);
      let s;
      try {
        s = statSync(pb);
      } catch (e) {
        error(`failed to stat component ${path}: ${strerror(e)}`);
        if (st.exitOnError) return 1;
        continue;
      }
      if (s.isFile()) {
        if (canAccess(pb, fsc.X_OK)) {
          if (st.test) out.write(path + '\n');
          else if (st.list) {
            if (canAccess(pb, fsc.R_OK)) out.write(path + '\n');
          } else {
            if (st.verbose) err(`run-parts: executing ${path}${st.argsBytes.map((a) => ' ' + a).join('')}\n`);
            const stdin = stdinFd >= 0 ? reopenStdin(stdinFd, stdinPath) : -1;
            try {
              if (await runPart(st, path, stdin, (c) => (current = c))) exitstatus = 1;
            } finally {
              current = null;
              if (stdin >= 0) closeSync(stdin);
            }
            // Like run-parts, this tests the global status: an earlier error also stops here.
            if (exitstatus !== 0 && st.exitOnError) return exitstatus;
          }
        } else if (canAccess(pb, fsc.R_OK) && st.list) out.write(path + '\n');
        // (run-parts' "component %s is a broken symbolic link" is unreachable after stat().)
      } else if (!s.isDirectory()) {
        if (!st.list) {
          error(`run-parts: component ${path} is not an executable plain file\n`);
          exitstatus = 1;
        }
      }
    }
    return exitstatus;
  };
  let result: number;
  try {
    result = await loop();
  } finally {
    out.flush();
    if (stdinFd >= 0) closeSync(stdinFd);
    if (stdinPath) {
      try {
        unlinkSync(stdinPath);
      } catch {
        // already gone
      }
    }
    if (running) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  }
  if (pendingSignal) {
    // No listener is left, so the default disposition is back and this terminates us.
    process.kill(process.pid, pendingSignal);
    sleepMs(1000);
    return 128 + signum(pendingSignal);
  }
  return result;
}

function canAccess(p: Buffer, m: number): boolean {
  try {
    accessSync(p, m);
    return true;
  } catch {
    return false;
  }
}

/** --stdin: all of stdin into a temporary file; returns [fd, path to unlink at the end or '']. */
function copyStdin(): [number, string] | null {
  const tmp = process.env.TMPDIR || '/tmp';
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let fd = -1;
  let path = '';
  for (let i = 0; i < 100 && fd < 0; i++) {
    path = `${tmp}/run-parts.stdin.`;
    for (let j = 0; j < 6; j++) path += chars[Math.floor(Math.random() * chars.length)];
    try {
      fd = openSync(path, 'wx+', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return null;
    }
  }
  if (fd < 0) return null;
  // With /proc each script gets a fresh open file (offset 0) of the already-unlinked file.
  if (existsSync(`/proc/self/fd/${fd}`)) {
    unlinkSync(path);
    path = '';
  }
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        sleepMs(1);
        continue;
      }
      if (code === 'EOF') break;
      if (code === 'EINTR') continue;
      error('run-parts: failed to read from stdin\n');
      closeSync(fd);
      return null;
    }
    if (n === 0) break;
    try {
      writeAll2(fd, buf.subarray(0, n));
    } catch {
      error('run-parts: failed to write to temporary file\n');
      closeSync(fd);
      return null;
    }
  }
  return [fd, path];
}
function writeAll2(fd: number, b: Buffer): void {
  for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
}
function reopenStdin(fd: number, path: string): number {
  return openSync(path || `/proc/self/fd/${fd}`, 'r');
}

/** run_part(): runs one script; true when it failed (run-parts then sets its exit status to 1). */
function runPart(st: Settings, path: string, stdin: number, setCurrent: (c: ChildProcess) => void): Promise<boolean> {
  const pb = B(path);
  let printflag = false;
  const emit = (fd: 1 | 2, data: Buffer) => {
    if (!printflag) {
      writeAll(fd, B(path + ':\n'));
      printflag = true;
    }
    writeAll(fd, data);
  };
  // The forked child of run-parts reports a failed execv() itself, on its stderr (so, under
  // --report, through the pipe with the header), and exits 1.
  const execFailed = (e: unknown): boolean => {
    const msg = B(`run-parts: failed to exec ${path}: ${strerror(e)}\n`);
    if (st.report) emit(2, msg);
    else writeAll(2, msg);
    error(`${path} exited with return code 1`);
    return true;
  };
  if (isExecFormatError(pb)) return Promise.resolve(execFailed({ code: 'ENOEXEC' }));

  let child: ChildProcess;
  try {
    child = spawn(unbytes(path), st.args, {
      stdio: [stdin >= 0 ? stdin : 'inherit', st.report ? 'pipe' : 'inherit', st.report ? 'pipe' : 'inherit'],
      detached: st.newSession,
    });
  } catch (e) {
    return Promise.resolve(execFailed(e));
  }
  setCurrent(child);
  return new Promise<boolean>((resolve) => {
    let done = false;
    let status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let open = st.report ? 2 : 0;
    let idle: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done || !status || open > 0) return;
      done = true;
      if (idle) clearTimeout(idle);
      if (status.signal) {
        error(`${path} exited because of uncaught signal ${signum(status.signal)}`);
        resolve(true);
      } else if (status.code) {
        error(`${path} exited with return code ${status.code}`);
        resolve(true);
      } else resolve(false);
    };
    // A script that leaves a daemon holding the pipes: once it is dead, drain what is there and
    // stop waiting (run-parts polls with a zero timeout after waitpid()).
    const armIdle = () => {
      if (!status || open === 0) return;
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        open = 0;
        finish();
      }, 50);
    };
    if (st.report) {
      for (const [stream, fd] of [
        [child.stdout!, 1],
        [child.stderr!, 2],
      ] as const) {
        stream.on('data', (d: Buffer) => {
          emit(fd, d);
          armIdle();
        });
        stream.on('error', () => {});
        stream.once('close', () => {
          open--;
          finish();
        });
      }
    }
    child.once('error', (e) => {
      if (done) return;
      if (child.pid === undefined || (e as NodeJS.ErrnoException).syscall?.startsWith('spawn')) {
        done = true;
        if (idle) clearTimeout(idle);
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve(execFailed(e));
      }
    });
    child.once('exit', (code, signal) => {
      status = { code, signal };
      armIdle();
      finish();
    });
  });
}
