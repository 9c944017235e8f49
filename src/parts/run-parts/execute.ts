// run-parts' main loop over the selected names: stat each one, print it (--test, --list) or run
// it (--verbose, --stdin, --exit-on-error), report non-regular files, and set the exit status.
import { accessSync, closeSync, constants as fsc, statSync } from 'node:fs';
import type { Settings } from './options.js';
import { BufferedStdout, describeErrno, printError, toBuffer, writeStderr } from './output.js';
import type { SignalForwarder } from './signals.js';
import type { StdinCopy } from './stdin.js';

type RunPart = typeof import('./run-part.js').runPart;

// Used for run-parts' access(X_OK) and access(R_OK) checks.
function canAccess(p: Buffer, m: number): boolean {
  try {
    accessSync(p, m);
    return true;
  } catch {
    return false;
  }
}

// Used once the names are selected (scan.ts): handles them all and returns run-parts' exit status.
export async function executeParts(st: Settings, names: string[]): Promise<number> {
  const dir = st.directory;
  const out = new BufferedStdout();
  let stdinCopy: StdinCopy | undefined;
  if (st.stdin) {
    const copy = (await import('./stdin.js')).copyStdin();
    if (!copy) {
      printError('run-parts: failed to copy content of stdin\n');
      return 1;
    }
    stdinCopy = copy;
  }

  // The modules for running scripts are loaded only when scripts will run (not for --test and
  // --list): run-part.ts brings node:child_process, the costliest import (~4 ms).
  let runPart: RunPart | undefined;
  let signals: SignalForwarder | undefined;
  if (!st.test && !st.list) {
    runPart = (await import('./run-part.js')).runPart;
    signals = new (await import('./signals.js')).SignalForwarder();
    signals.install();
  }

  let exitstatus = 0;
  // Used once: the loop itself, returning early on --exit-on-error.
  const visitAll = async (): Promise<number> => {
    for (const name of names) {
      if (signals?.pending) break;
      const path = `${dir}/${name}`;
      const pb = toBuffer(path);
      let s;
      try {
        s = statSync(pb);
      } catch (e) {
        printError(`failed to stat component ${path}: ${describeErrno(e)}`);
        if (st.exitOnError) return 1;
        continue;
      }
      if (s.isFile()) {
        if (canAccess(pb, fsc.X_OK)) {
          if (st.test) out.write(path + '\n');
          else if (st.list) {
            if (canAccess(pb, fsc.R_OK)) out.write(path + '\n');
          } else {
            if (st.verbose) writeStderr(`run-parts: executing ${path}${st.argsBytes.map((a) => ' ' + a).join('')}\n`);
            const stdin = stdinCopy ? stdinCopy.reopen() : -1;
            try {
              if (await runPart!(st, path, stdin, (c) => (signals!.current = c))) exitstatus = 1;
            } finally {
              signals!.current = null;
              if (stdin >= 0) closeSync(stdin);
            }
            // Like run-parts, this tests the global status: an earlier error also stops here.
            if (exitstatus !== 0 && st.exitOnError) return exitstatus;
          }
        } else if (canAccess(pb, fsc.R_OK) && st.list) out.write(path + '\n');
        // (run-parts' "component %s is a broken symbolic link" is unreachable after stat().)
      } else if (!s.isDirectory()) {
        if (!st.list) {
          printError(`run-parts: component ${path} is not an executable plain file\n`);
          exitstatus = 1;
        }
      }
    }
    return exitstatus;
  };
  let result: number;
  try {
    result = await visitAll();
  } finally {
    out.flush();
    stdinCopy?.remove();
    signals?.remove();
  }
  if (signals?.pending) return signals.dieOfPendingSignal();
  return result;
}
