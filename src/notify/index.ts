// Notifications around a run of `backup` (and `verify`/`restore` when configured; their failures always):
// a start ping before the modules run, then a success or failure ping with each module's result and, on
// failure, the tail of the log.
// Targets: a webhook in healthchecks.io format (URL/start, URL, URL/fail, with ?rid= so overlapping runs
// stay apart) or as a JSON POST; an ntfy topic, an e-mail through sendmail, a command (end of run only). A ping never fails the run and never holds it up longer than its timeout.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { NotifyConfig, RootConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { postPing, redactUrl } from './send.js';
import { shortId } from '../log/format.js';
import { sendNtfy } from './ntfy.js';
import { sendMail } from './mail.js';
import { runCommand } from './command.js';
import { rememberNotifyEntries } from './last-good.js';

export type NotifyEvent = 'start' | 'success' | 'failure';

// What a finished module reports (a subset of ModuleResult, so this folder does not depend on the runner).
export interface NotifyModuleResult {
  module: string;
  ok: boolean;
  skipped?: boolean;
  locked?: boolean;
  error: string | null;
  failedPart?: string | null;
  snapshots: Array<{ repository: string; id: string }>;
  // What the backup's retention removed.
  removed?: Array<{ repository: string; id: string }>;
}

export interface Notifier {
  // Sends the success or failure ping; resolves when every ping got an answer or timed out.
  finish(results: NotifyModuleResult[]): Promise<void>;
}

export const DEFAULT_TIMEOUT_SECONDS = 5;
// The actions an entry without `actions:` pings for in full (start, success, failure); for the others it
// sends failures only.
export const DEFAULT_ACTIONS = ['backup'];
// healthchecks.io keeps the first 10 KB of a ping body (100 KB at most); the tail is what matters.
const MAX_BODY_BYTES = 10_000;
const LOG_TAIL_LINES = 60;

// Sends the start pings of every notify entry that covers this action and these modules.
// Unless told not to, it also remembers the entries for a later run whose lifeboat.yaml cannot be parsed.
export function startNotifications(root: RootConfig, action: string, modules: string[], log: Logger, options: { remember?: boolean } = {}): Notifier {
  if (options.remember !== false) rememberNotifyEntries(root.stateDir, root.global.notify);
  // An entry without `actions:` gets every ping of a backup and the failure ping of any other action (a
  // failed restore drill must reach someone); with `actions:`, every ping of the actions listed, no other.
  const targets = root.global.notify
    .filter((entry) => !entry.actions || (entry.actions as string[]).includes(action))
    .map((entry) => ({ entry, modules: entry.modules ? modules.filter((m) => entry.modules!.includes(m)) : modules, rid: randomUUID(), failuresOnly: !entry.actions && !DEFAULT_ACTIONS.includes(action) }))
    .filter((target) => target.modules.length > 0);
  const started = new Date();
  const context = { action, host: root.host ?? os.hostname(), started: started.toISOString() };
  // Only webhooks get a start ping: an e-mail or a push message that a run began is noise.
  const starts = targets.map((target) => (target.entry.webhook && !target.failuresOnly ? ping(target.entry, 'start', target.rid, render(target.entry, 'start', { ...context, modules: target.modules.map((module) => ({ module })) }, log), log) : Promise.resolve()));
  return {
    async finish(results) {
      await Promise.all(
        targets.map(async (target, index) => {
          // The start ping must arrive first; it has had the whole run to do so, and has its own timeout.
          await starts[index];
          const mine = results.filter((result) => target.modules.includes(result.module));
          // A module locked by another run was skipped, not failed (that run sends its own ping): a
          // success ping closes this run's start ping, and no failure is reported for it.
          const ok = mine.every((result) => result.ok || result.locked);
          if (ok && target.failuresOnly) return;
          const event: NotifyEvent = ok ? 'success' : 'failure';
          const payload = { ...context, ended: new Date().toISOString(), modules: mine.map(summarise), log: ok ? undefined : log.recent(LOG_TAIL_LINES) };
          const message = render(target.entry, event, payload, log);
          if (target.entry.webhook) await ping(target.entry, event, target.rid, message, log);
          else await deliver(target.entry, event, message.body, context, log);
        }),
      );
    },
  };
}

interface Payload {
  action: string;
  host: string;
  started: string;
  ended?: string;
  modules: Array<Record<string, unknown> & { module: string }>;
  log?: string[];
}

// Renders the body in the entry's format; everything passes through the masker last.
function render(entry: NotifyConfig, event: NotifyEvent, payload: Payload, log: Logger): { body: string; contentType: string } {
  if (format(entry) === 'json') {
    const body = JSON.stringify({ event, ...payload });
    return { body: log.masker.mask(body.length > MAX_BODY_BYTES * 10 ? JSON.stringify({ event, ...payload, log: payload.log?.slice(-10) }) : body), contentType: 'application/json' };
  }
  const names = payload.modules.map((m) => m.module).join(', ');
  const lines = [`lifeboat ${payload.action} ${event === 'start' ? 'started' : event === 'success' ? 'succeeded' : 'FAILED'} on ${payload.host}: ${names}`];
  if (event !== 'start') {
    for (const m of payload.modules) {
      const snapshots = (m.snapshots as Array<{ repository: string; id: string }> | undefined)?.map((s) => `${s.repository}:${shortId(s.id)}`).join(' ');
      const removed = (m.removed as Array<{ repository: string; id: string }> | undefined)?.map((s) => `${s.repository}:${shortId(s.id)}`).join(' ');
      lines.push(`${m.module}: ${m.result}${snapshots ? ` ${snapshots}` : ''}${removed ? `; retention removed ${removed}` : ''}${m.error ? ` (${m.failedPart ? `${m.failedPart}: ` : ''}${m.error})` : ''}`);
    }
  }
  if (payload.log?.length) lines.push('', '--- last lines of the log ---', ...payload.log);
  return { body: tail(log.masker.mask(`${lines.join('\n')}\n`), MAX_BODY_BYTES), contentType: 'text/plain; charset=utf-8' };
}

// One module's result as the pings report it.
function summarise(result: NotifyModuleResult): Record<string, unknown> & { module: string } {
  const outcome = result.ok ? (result.skipped ? 'skipped' : 'ok') : result.locked ? 'skipped (locked)' : 'failed';
  return { module: result.module, ok: result.ok || !!result.locked, result: outcome, snapshots: result.snapshots.map(({ repository, id }) => ({ repository, id })), ...(result.removed?.length ? { removed: result.removed.map(({ repository, id }) => ({ repository, id })) } : {}), error: result.error, failedPart: result.failedPart ?? null };
}

// Sends one ping; a failure is logged as an error (printed under -q too: it may be the only word that the
// run failed) naming only the host of the URL; it does not fail the run.
async function ping(entry: NotifyConfig, event: NotifyEvent, rid: string, message: { body: string; contentType: string }, log: Logger): Promise<void> {
  const url = pingUrl(entry, event, rid);
  const timeoutMs = (entry.timeout ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const result = await postPing(url, message.body, message.contentType, timeoutMs);
  if (result.ok) log.debug(`notified ${redactUrl(entry.webhook!)} (${event})`);
  else log.error(`notification (${event}) to ${redactUrl(entry.webhook!)} failed: ${log.masker.mask(result.error ?? 'unknown error')}; the run itself is not affected`);
}

// Sends the end-of-run message to an ntfy topic, through sendmail or to a command; failures are logged as
// errors (printed under -q), never failing the run.
async function deliver(entry: NotifyConfig, event: NotifyEvent, body: string, context: { action: string; host: string }, log: Logger): Promise<void> {
  const timeoutMs = (entry.timeout ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const message = { subject: body.split('\n')[0], body, failed: event === 'failure' };
  const [what, result] = entry.ntfy
    ? [`ntfy ${redactUrl(entry.ntfy)}`, await sendNtfy(entry.ntfy, message, entry.priority, timeoutMs)]
    : entry.sendmail
      ? [`e-mail to ${entry.sendmail.to}`, await sendMail(entry.sendmail, message, timeoutMs)]
      : [`notify command`, await runCommand(entry.command!, message, { ...context, event }, timeoutMs)];
  if (result.ok) log.debug(`notified ${what} (${event})`);
  else log.error(`notification (${event}) by ${what} failed: ${log.masker.mask(result.error ?? 'unknown error')}; the run itself is not affected`);
}

// healthchecks.io: URL/start, URL, URL/fail, each with ?rid=; json: the URL itself.
export function pingUrl(entry: NotifyConfig, event: NotifyEvent, rid: string): string {
  if (format(entry) === 'json') return entry.webhook!;
  const url = new URL(entry.webhook!);
  const suffix = event === 'start' ? '/start' : event === 'failure' ? '/fail' : '';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${suffix}`;
  url.searchParams.set('rid', rid);
  return url.toString();
}

function format(entry: NotifyConfig): 'healthchecks' | 'json' {
  return entry.format ?? 'healthchecks';
}

// The last `max` bytes of a text, cut at a line start.
function tail(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  const cut = Buffer.from(text).subarray(-max).toString('utf8');
  return `[…]\n${cut.slice(cut.indexOf('\n') + 1)}`;
}
