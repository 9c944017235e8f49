// A scheduled run that cannot start (lifeboat.yaml or a named module.yaml is invalid, a repository's
// provider or a part is refused: exit 2) still sends its
// failure ping: otherwise a configuration mistake made during the day is silent at 3 a.m. The notify:
// entries are read on their own from lifeboat.yaml, so a mistake elsewhere in the file does not hide them.
// A lifeboat.yaml refused as untrusted (writable by group/others, another user's) was possibly written by
// someone else: from it only HTTP targets (webhook, ntfy) without ${VAR} are used, never a command or
// sendmail entry, and nothing is interpolated (a URL must not carry a secret to a stranger's server).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, YAMLError } from 'yaml';
import { readEnvFile } from '../config/env-file.js';
import { interpolate } from '../config/interpolate.js';
import { notifyProblems } from '../config/load.js';
import { resolveRoot, resolveStateDir, type PathOptions } from '../config/paths.js';
import type { NotifyConfig, RootConfig } from '../config/types.js';
import { validateDocument } from '../config/validate.js';
import type { Logger } from '../log/logger.js';
import { unsafeReason } from '../files/permissions.js';
import { startNotifications } from './index.js';
import { lastGoodNotifyEntries } from './last-good.js';

// Sends the failure ping of every notify: entry that covers this action, naming the configuration error.
export async function notifyUnstarted(options: PathOptions, action: string, names: string[], error: string, log: Logger): Promise<void> {
  const rootDir = resolveRoot(options);
  const notify = readNotifyEntries(rootDir, resolveStateDir(options), log);
  if (notify.length === 0) return;
  const modules = names.length > 0 ? names : moduleFolders(rootDir);
  if (modules.length === 0) return;
  const root = { root: rootDir, stateDir: resolveStateDir(options), global: { repositories: {}, defaults: {}, notify }, rootEnv: {}, host: os.hostname(), moduleNames: modules } as RootConfig;
  const notifier = startNotifications(root, action, modules, log, { remember: false });
  await notifier.finish(modules.map((module) => ({ module, ok: false, error: `the configuration is invalid, nothing ran: ${error}`, failedPart: 'configuration', snapshots: [] })));
}

// The valid entries of lifeboat.yaml's notify: list, ${VAR} resolved; anything unreadable gives none. From
// an untrusted file, only the HTTP entries that need no interpolation. A file that is not even valid YAML
// gives the entries the last run that loaded it remembered (see last-good.ts).
function readNotifyEntries(rootDir: string, stateDir: string, log: Logger): NotifyConfig[] {
  const file = ['lifeboat.yaml', 'lifeboat.yml', 'lifeboat.json'].map((name) => path.join(rootDir, name)).find((candidate) => existsSync(candidate));
  if (!file) {
    // A lifeboat.yaml that is gone: the entries the last run that loaded it remembered.
    const remembered = lastGoodNotifyEntries(stateDir);
    if (!remembered) return [];
    log.warn(`${path.join(rootDir, 'lifeboat.yaml')} does not exist; the failure ping goes to the notify entries of the last run that loaded it (${remembered.written.toISOString()})`);
    return remembered.entries.filter(validEntry);
  }
  try {
    let doc: { notify?: unknown };
    try {
      doc = parse(readFileSync(file, 'utf8')) as { notify?: unknown };
    } catch (error) {
      if (!(error instanceof YAMLError)) throw error;
      const remembered = lastGoodNotifyEntries(stateDir);
      if (!remembered) return [];
      log.warn(`${file} cannot be parsed; the failure ping goes to the notify entries of the last run that loaded it (${remembered.written.toISOString()})`);
      return remembered.entries.filter(validEntry);
    }
    if (!doc || !Array.isArray(doc.notify)) return [];
    if (unsafeReason(statSync(file))) {
      const http = (doc.notify as unknown[]).filter((entry) => isHttpOnly(entry) && !JSON.stringify(entry).includes('${'));
      const dropped = doc.notify.length - http.length;
      if (dropped > 0) log.warn(`${file} is not trusted: ${dropped} notify entr${dropped === 1 ? 'y' : 'ies'} with a command, sendmail or \${VAR} not used for the failure ping; only webhook and ntfy entries are`);
      return http.filter((entry) => validEntry(entry)) as NotifyConfig[];
    }
    let env: Record<string, string> = {};
    try {
      env = readEnvFile(path.join(rootDir, 'environment'), 'environment');
    } catch {
      env = {};
    }
    const entries = interpolate(doc.notify, { ...process.env, ...env }, []) as unknown[];
    return entries.filter(validEntry) as NotifyConfig[];
  } catch {
    return [];
  }
}

function validEntry(entry: unknown): boolean {
  return validateDocument('lifeboat', { notify: [entry] }, 'lifeboat.yaml').length === 0 && notifyProblems(entry as NotifyConfig, '').length === 0;
}

// A webhook or ntfy entry: Lifeboat only sends an HTTP request for it, it runs nothing.
function isHttpOnly(entry: unknown): boolean {
  if (!entry || typeof entry !== 'object') return false;
  const record = entry as Record<string, unknown>;
  return (typeof record.webhook === 'string' || typeof record.ntfy === 'string') && record.command === undefined && record.sendmail === undefined;
}

// The folders in modules/ (the module names a run of every module would have had).
function moduleFolders(rootDir: string): string[] {
  try {
    return readdirSync(path.join(rootDir, 'modules'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
}
