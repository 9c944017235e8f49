// A scheduled run that cannot start (lifeboat.yaml or a named module.yaml is invalid, a repository's
// provider or a part is refused: exit 2) still sends its
// failure ping: otherwise a configuration mistake made during the day is silent at 3 a.m. The notify:
// entries are read on their own from lifeboat.yaml, so a mistake elsewhere in the file does not hide them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { readEnvFile } from '../config/env-file.js';
import { interpolate } from '../config/interpolate.js';
import { notifyProblems } from '../config/load.js';
import { resolveRoot, resolveStateDir, type PathOptions } from '../config/paths.js';
import type { NotifyConfig, RootConfig } from '../config/types.js';
import { validateDocument } from '../config/validate.js';
import type { Logger } from '../log/logger.js';
import { startNotifications } from './index.js';

// Sends the failure ping of every notify: entry that covers this action, naming the configuration error.
export async function notifyUnstarted(options: PathOptions, action: string, names: string[], error: string, log: Logger): Promise<void> {
  const rootDir = resolveRoot(options);
  const notify = readNotifyEntries(rootDir);
  if (notify.length === 0) return;
  const modules = names.length > 0 ? names : moduleFolders(rootDir);
  if (modules.length === 0) return;
  const root = { root: rootDir, stateDir: resolveStateDir(options), global: { repositories: {}, defaults: {}, notify }, rootEnv: {}, host: os.hostname(), moduleNames: modules } as RootConfig;
  const notifier = startNotifications(root, action, modules, log);
  await notifier.finish(modules.map((module) => ({ module, ok: false, error: `the configuration is invalid, nothing ran: ${error}`, failedPart: 'configuration', snapshots: [] })));
}

// The valid entries of lifeboat.yaml's notify: list, ${VAR} resolved; anything unreadable gives none.
function readNotifyEntries(rootDir: string): NotifyConfig[] {
  const file = ['lifeboat.yaml', 'lifeboat.yml', 'lifeboat.json'].map((name) => path.join(rootDir, name)).find((candidate) => existsSync(candidate));
  if (!file) return [];
  try {
    const doc = parse(readFileSync(file, 'utf8')) as { notify?: unknown };
    if (!doc || !Array.isArray(doc.notify)) return [];
    let env: Record<string, string> = {};
    try {
      env = readEnvFile(path.join(rootDir, 'environment'), 'environment');
    } catch {
      env = {};
    }
    const entries = interpolate(doc.notify, { ...process.env, ...env }, []) as unknown[];
    const valid = (entry: unknown) => validateDocument('lifeboat', { notify: [entry] }, 'lifeboat.yaml').length === 0 && notifyProblems(entry as NotifyConfig, '').length === 0;
    return entries.filter(valid) as NotifyConfig[];
  } catch {
    return [];
  }
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
