// E-mail through the local sendmail (`sendmail -i -t`: recipients from the To: header, a lone "." line is
// not the end): a plain-text message with the summary, the subject saying success or FAILED.
import os from 'node:os';
import type { PingResult } from './send.js';
import type { Message } from './ntfy.js';
import { headerSafe } from './ntfy.js';
import { runNotifier } from './process.js';

export const DEFAULT_SENDMAIL = '/usr/sbin/sendmail';

// Hands one message to sendmail; never throws.
export function sendMail(settings: { to: string; from?: string; command?: string }, message: Message, timeoutMs: number): Promise<PingResult> {
  const headers = [
    `To: ${headerSafe(settings.to)}`,
    ...(settings.from ? [`From: ${headerSafe(settings.from)}`] : []),
    `Subject: ${headerSafe(message.subject)}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    'Auto-Submitted: auto-generated',
    `X-Lifeboat-Host: ${headerSafe(os.hostname())}`,
  ];
  const text = `${headers.join('\n')}\n\n${message.body.endsWith('\n') ? message.body : `${message.body}\n`}`;
  return runNotifier(settings.command ?? DEFAULT_SENDMAIL, ['-i', '-t'], text, process.env, timeoutMs);
}
