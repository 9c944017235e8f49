// Runs a notification program (sendmail, a command) with the message on stdin and a hard time limit;
// never throws: a failure is described in the result, which the caller logs as a warning.
import { spawn } from 'node:child_process';
import type { PingResult } from './send.js';

// Starts `file args`, writes `input`, waits for it to exit; kills it (and its group) after timeoutMs.
export function runNotifier(file: string, args: string[], input: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<PingResult> {
  return new Promise((resolve) => {
    let stderr = '';
    let timedOut = false;
    const child = spawn(file, args, { env, stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `cannot run ${file}: ${error.code ?? error.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ ok: false, error: `no answer within ${timeoutMs / 1000}s (timeout)` });
      else if (code === 0) resolve({ ok: true });
      else resolve({ ok: false, error: `${file} exited with ${code ?? signal}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}` });
    });
  });
}
