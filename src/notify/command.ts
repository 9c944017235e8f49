// A notify command: run through /bin/sh with the summary on stdin and what happened in its environment.
import type { PingResult } from './send.js';
import type { Message } from './ntfy.js';
import { runNotifier } from './process.js';

// Runs the command once for this run's end; never throws.
export function runCommand(command: string, message: Message, context: { action: string; host: string; event: string }, timeoutMs: number): Promise<PingResult> {
  const env = { ...process.env, LIFEBOAT_EVENT: context.event, LIFEBOAT_ACTION: context.action, LIFEBOAT_HOST: context.host, LIFEBOAT_SUBJECT: message.subject };
  return runNotifier('/bin/sh', ['-c', command], message.body, env, timeoutMs);
}
