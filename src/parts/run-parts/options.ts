// run-parts' command line: usage and version texts, options parsed as glibc
// getopt_long(argc, argv, "u:ha:vV", longopts) does it (GNU permutation, POSIXLY_CORRECT,
// unique abbreviations, glibc's exact messages), the settings they set, and the checks main()
// makes afterwards (operand count, --list with --test, --umask values).
import { printError, toBuffer, toBytes, writeAll, writeStderr } from './output.js';

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
/** The short options, and whether each takes an argument. */
const SHORTOPTS: Record<string, boolean> = { u: true, h: false, a: true, v: false, V: false };

/** One option (its short letter or long name as id), or glibc's message for a bad one. */
type ParsedOption = { id: string; arg?: string } | { error: string };

// Used by parseOptions(): yields the options in order (lazily, as getopt_long returns them) and collects the operands.
function* getopt(argv: string[], operands: string[]): Generator<ParsedOption> {
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
            error: `run-parts: option '--${body}' is ambiguous; possibilities:${cands.map((o) => ` '--${o.name}'`).join('')}\n`,
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

/** Which name rule selects the parts: the classical one, --regex, or --lsbsysinit (the last one given wins). */
export type NameMode = 'normal' | 'ere' | 'lsb';

export interface Settings {
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
  mode: NameMode;
  customEre: string; // the --regex pattern as given (a JS string)
  directory: string; // the operand, as a byte string
}

// Used first by `lifeboat run-parts`: the settings to run with, or the exit code when main() would stop here.
export function parseOptions(argv: string[]): Settings | number {
  process.umask(0o022);
  const st: Settings = {
    test: false, list: false, verbose: false, debug: false, report: false, reverse: false,
    exitOnError: false, stdin: false, newSession: false, args: [], argsBytes: [],
    mode: 'normal', customEre: '', directory: '',
  };
  const operands: string[] = [];
  for (const o of getopt(argv, operands)) {
    if ('error' in o) {
      writeStderr(toBytes(o.error) + TRY);
      return 1;
    }
    switch (o.id) {
      case 'test': st.test = true; break;
      case 'list': st.list = true; break;
      case 'v': st.verbose = true; break;
      case 'debug': st.debug = true; break;
      case 'report': st.report = true; break;
      case 'reverse': st.reverse = true; break;
      case 'lsbsysinit': st.mode = 'lsb'; break;
      case 'regex': st.mode = 'ere'; st.customEre = o.arg!; break;
      case 'stdin': st.stdin = true; break;
      case 'exit-on-error': st.exitOnError = true; break;
      case 'new-session': st.newSession = true; break;
      case 'u': {
        const mask = parseUmask(o.arg!);
        if (mask === null) {
          printError('bad umask value');
          return 1;
        }
        process.umask(mask);
        break;
      }
      case 'a': st.args.push(o.arg!); st.argsBytes.push(toBytes(o.arg!)); break;
      case 'h': writeStderr(USAGE); return 0;
      case 'V': writeAll(1, toBuffer(VERSION)); return 0;
    }
  }
  if (operands.length !== 1) {
    printError('missing operand');
    writeStderr(TRY);
    return 1;
  }
  if (st.list && st.test) {
    printError('--list and --test can not be used together');
    writeStderr(TRY);
    return 1;
  }
  st.directory = toBytes(operands[0]!);
  return st;
}

// Used for --umask: sscanf(s, "%o", &int) plus run-parts' range check; null = "bad umask value".
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
