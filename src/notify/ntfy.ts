// ntfy (https://ntfy.sh or a self-hosted server): the summary POSTed to the topic URL, its first line as
// the Title header, failures at the entry's priority (default high) and successes at low.
import { postPing, type PingResult } from './send.js';

export interface Message {
  // First line: "lifeboat backup FAILED on host: modules".
  subject: string;
  body: string;
  failed: boolean;
}

// Sends one ntfy message; never throws.
export function sendNtfy(url: string, message: Message, priority: string | undefined, timeoutMs: number): Promise<PingResult> {
  const headers = {
    Title: headerSafe(message.subject),
    Priority: message.failed ? (priority ?? 'high') : 'low',
    Tags: message.failed ? 'warning' : 'white_check_mark',
  };
  return postPing(url, message.body, 'text/plain; charset=utf-8', timeoutMs, headers);
}

// HTTP header values are Latin-1 without line breaks: anything else becomes '?'.
export function headerSafe(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e\xa0-\xff]/g, '?').slice(0, 250);
}
