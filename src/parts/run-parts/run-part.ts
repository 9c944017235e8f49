// run_part(): runs one script, with run-parts' messages for a failed exec, a non-zero exit or a
// death by signal, and --report's "path:" header before the script's first output.
// Scripts start through the process runner (src/process/runner.ts), which brings node:child_process, the
// costliest built-in (~4 ms): execute.ts imports this module lazily, only when scripts will run. Keep it
// out of static imports.
import type { ChildProcess } from 'node:child_process';
import { start } from '../../process/runner.js';
import { isExecFormatError } from './exec-format.js';
import type { Settings } from './options.js';
import { describeErrno, fromBytes, printError, toBuffer, writeAll } from './output.js';
import { toSignalNumber } from './signals.js';

// Used for each part that is to run; resolves true when it failed (run-parts then sets its exit status to 1).
export function runPart(st: Settings, path: string, stdin: number, setCurrent: (c: ChildProcess) => void): Promise<boolean> {
  const pb = toBuffer(path);
  let printflag = false;
  // Used under --report for everything the script writes: the "path:" header goes first, once.
  const emit = (fd: 1 | 2, data: Buffer) => {
    if (!printflag) {
      writeAll(fd, toBuffer(path + ':\n'));
      printflag = true;
    }
    writeAll(fd, data);
  };
  // The forked child of run-parts reports a failed execv() itself, on its stderr (so, under
  // --report, through the pipe with the header), and exits 1.
  const reportExecFailure = (e: unknown): boolean => {
    const msg = toBuffer(`run-parts: failed to exec ${path}: ${describeErrno(e)}\n`);
    if (st.report) emit(2, msg);
    else writeAll(2, msg);
    printError(`${path} exited with return code 1`);
    return true;
  };
  if (isExecFormatError(pb)) return Promise.resolve(reportExecFailure({ code: 'ENOEXEC' }));

  let child: ChildProcess;
  try {
    child = start(fromBytes(path), {
      args: st.args,
      stdio: [stdin >= 0 ? stdin : 'inherit', st.report ? 'pipe' : 'inherit', st.report ? 'pipe' : 'inherit'],
      group: st.newSession,
    }).child;
  } catch (e) {
    return Promise.resolve(reportExecFailure(e));
  }
  setCurrent(child);
  return new Promise<boolean>((resolve) => {
    let done = false;
    let status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let open = st.report ? 2 : 0;
    let idle: NodeJS.Timeout | undefined;
    // Used whenever the exit status or a pipe's end arrives: reports once both are in.
    const finish = () => {
      if (done || !status || open > 0) return;
      done = true;
      if (idle) clearTimeout(idle);
      if (status.signal) {
        printError(`${path} exited because of uncaught signal ${toSignalNumber(status.signal)}`);
        resolve(true);
      } else if (status.code) {
        printError(`${path} exited with return code ${status.code}`);
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
        resolve(reportExecFailure(e));
      }
    });
    child.once('exit', (code, signal) => {
      status = { code, signal };
      armIdle();
      finish();
    });
  });
}
