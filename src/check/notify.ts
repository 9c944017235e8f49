// The notify: targets of lifeboat.yaml, tried without sending anything: a sendmail or command that is not
// there (or not executable) can never deliver, a URL that does not parse never reaches anyone, and a host
// that does not answer is worth a warning. A failed notification does not fail a run, so it would otherwise
// be noticed only when nobody hears about a failed backup.
import { accessSync, constants, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { NotifyConfig, RootConfig } from '../config/types.js';
import { DEFAULT_SENDMAIL } from '../notify/mail.js';
import { fail, ok, warn, type Finding } from './findings.js';

// How long a notify host may take to accept a connection.
const CONNECT_TIMEOUT_MS = 5000;

// One finding per notify: entry.
export async function checkNotify(root: RootConfig): Promise<Finding[]> {
  const file = root.file ?? path.join(root.root, 'lifeboat.yaml');
  return Promise.all(root.global.notify.map((entry, index) => checkEntry(entry, `${file}: /notify/${index}`)));
}

async function checkEntry(entry: NotifyConfig, subject: string): Promise<Finding> {
  const url = entry.webhook ?? entry.ntfy;
  if (url !== undefined) {
    const key = entry.webhook !== undefined ? 'webhook' : 'ntfy';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return fail(`${subject}/${key}`, `is not a URL a notification can be sent to; write it as http(s)://host[:port]/path`);
    }
    const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
    const reached = await connects(parsed.hostname.replace(/^\[|\]$/g, ''), port);
    const where = `${parsed.protocol}//${parsed.host}`;
    return reached === undefined ? ok(`${subject}/${key}`, `${where} accepts connections`) : warn(`${subject}/${key}`, `${where} cannot be reached (${reached}): notifications to it will fail; check the URL and the network`);
  }
  if (entry.sendmail !== undefined) {
    const command = entry.sendmail.command ?? DEFAULT_SENDMAIL;
    const problem = executableProblem(command);
    return problem ? fail(`${subject}/sendmail`, `${command} ${problem}: no mail can be sent; install a sendmail (e.g. Debian's postfix, msmtp-mta) or set sendmail.command`) : ok(`${subject}/sendmail`, `${command} is executable`);
  }
  const command = entry.command ?? '';
  const first = /^\s*([^\s'"$`\\;&|()<>={}]+)(?=\s|$)/.exec(command)?.[1];
  // A command that starts with shell syntax (a variable, quotes, an assignment) is left to the shell.
  if (first === undefined || !first.includes('/')) return ok(`${subject}/command`, 'a shell command (not tried)');
  const problem = executableProblem(first);
  return problem ? fail(`${subject}/command`, `${first} ${problem}: the notify command cannot run; fix the path or install it`) : ok(`${subject}/command`, `${first} is executable`);
}

// Why `file` (a path, or a name looked up in PATH) cannot be executed, or undefined.
function executableProblem(file: string): string | undefined {
  const candidates = file.includes('/') ? [file] : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, file));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return undefined;
    } catch (error) {
      if (file.includes('/')) return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not executable';
    }
  }
  return file.includes('/') ? 'is not a file' : 'is not in PATH';
}

// Undefined when host:port accepts a TCP connection, else the reason (ECONNREFUSED, a timeout).
function connects(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(`no answer within ${CONNECT_TIMEOUT_MS / 1000}s`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}
