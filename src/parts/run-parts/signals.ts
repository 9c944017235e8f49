// SIGINT/SIGTERM while scripts run. Debian's run-parts does not handle them: it dies at once and
// leaves the running script behind (it only gets the signal too when it came from the terminal to
// the whole process group). We forward the signal to the running script, wait for it, report its
// end exactly as run-parts reports a script death ("... exited because of uncaught signal 15", or
// "... exited with return code N" if it trapped the signal), run nothing more, and then die of
// that same signal, so that our caller sees what it would have seen from Debian's run-parts
// (WIFSIGNALED, i.e. 130/143 in a shell) -- only after the script got the chance to clean up.
// Handlers are installed only while scripts may run; --test/--list keep the default disposition
// (execute.ts loads this module only then).
import type { ChildProcess } from 'node:child_process';
import { constants as osc } from 'node:os';
import { sleepMs } from './output.js';

// Used for run-parts' "uncaught signal N" and for the exit code after re-raising a signal.
export const toSignalNumber = (sig: string): number => (osc.signals as Record<string, number>)[sig] ?? 0;

// Used by execute.ts while scripts run: one per run, installed before the first script and removed after the last.
export class SignalForwarder {
  /** The first SIGINT/SIGTERM received; no further script starts once it is set. */
  pending: NodeJS.Signals | null = null;
  /** The running script, if any. */
  current: ChildProcess | null = null;

  // Used as the SIGINT/SIGTERM listener: remembers the signal and passes it on to a live script.
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.pending ??= sig;
    const c = this.current;
    if (c && c.exitCode === null && c.signalCode === null) c.kill(sig);
  };

  // Used just before the first script may run.
  install(): void {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  // Used at the end, so the default dispositions are back before dieOfPendingSignal().
  remove(): void {
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
  }

  // Used after remove() when a signal was forwarded: no listener is left, so this terminates us.
  dieOfPendingSignal(): number {
    const sig = this.pending!;
    process.kill(process.pid, sig);
    sleepMs(1000);
    return 128 + toSignalNumber(sig);
  }
}
