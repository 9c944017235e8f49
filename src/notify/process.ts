// Runs a notification program (sendmail, a command) with the message on stdin and a hard time limit;
// never throws: a failure is described in the result, which the caller logs as a warning.
import { head, start } from '../process/runner.js';
import type { PingResult } from './send.js';

// Starts `file args`, writes `input`, waits for it to exit; kills it (and its group) after timeoutMs.
export async function runNotifier(file: string, args: string[], input: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<PingResult> {
  const proc = start(file, { args, env, input, group: true, stdio: ['pipe', 'ignore', 'pipe'], timeoutMs, timeoutSignal: 'SIGKILL' });
  const stderr = head(proc.child.stderr!, 2000);
  const { code, signal, error } = await proc.exited;
  proc.dispose();
  if (error) return { ok: false, error: `cannot run ${file}: ${error.code ?? error.message}` };
  if (proc.timedOut) return { ok: false, error: `no answer within ${timeoutMs / 1000}s (timeout)` };
  if (code === 0) return { ok: true };
  const said = stderr.text().trim();
  return { ok: false, error: `${file} exited with ${code ?? signal}${said ? `: ${said.split('\n')[0]}` : ''}` };
}
