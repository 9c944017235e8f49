// `lifeboat run-parts`: a drop-in for Debian's run-parts 5.x (debianutils), checked differentially
// against /usr/bin/run-parts 5.7 (test/parts/run-parts.test.ts). Same options (parsed like
// getopt_long, abbreviations and permutation included), same name rules and byte order, same
// messages on the same streams, same exit codes. It starts fast: only node: built-ins are imported,
// and only what the options need (--test loads neither the ERE port nor node:child_process).
// The pieces, in src/parts/run-parts/: options.ts (command line), scan.ts (selection and order),
// regex*.ts (--regex), execute.ts (the loop), run-part.ts, signals.ts, stdin.ts and
// exec-format.ts (running scripts), output.ts (byte-exact writes and messages).
//
// Internally every name and path is a "byte string" (one char per byte, Buffer 'latin1'), so
// output is byte-exact and --regex works on bytes as glibc's regexec does in the C locale.
//
// Deliberate differences from Debian's binary (all documented where they happen):
//  - SIGINT/SIGTERM are forwarded to the running script; see src/parts/run-parts/signals.ts.
//  - `--debug` prints "." and ".." first (Node cannot tell where readdir returned them).
//  - argv is decoded by Node as UTF-8, so non-UTF-8 bytes in arguments are not preserved, and a
//    part whose name is not valid UTF-8 is listed byte-exactly but cannot be executed exactly.
//  - libuv resets signal dispositions in children, so an ignored SIGINT is not inherited.
import { executeParts } from '../parts/run-parts/execute.js';
import { parseOptions } from '../parts/run-parts/options.js';
import { createNameFilter, scanDirectory } from '../parts/run-parts/scan.js';

// Used by bin/lifeboat for `lifeboat run-parts ARGS...`: returns the exit code run-parts would.
export async function runPartsCommand(argv: string[]): Promise<number> {
  const settings = parseOptions(argv);
  if (typeof settings === 'number') return settings;
  const isValidName = await createNameFilter(settings);
  if (!isValidName) return 1;
  const names = scanDirectory(settings, isValidName);
  if (!names) return 1;
  return executeParts(settings, names);
}
