// `lifeboat check`: configuration valid, binaries present, parts/plugins/environment files safe.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { createLogger, printJson, renderTable, type GlobalOptions } from './common.js';
import { IGNORED_KEY_REASON, ignoredEnvKeys } from '../config/env-file.js';
import { loadModules, loadRoot } from '../config/load.js';
import { moduleStatuses } from '../report/status.js';
import { formatDuration } from '../report/format.js';
import { ACTIONS, type Action } from '../lifecycle/phases.js';
import { planAction } from '../lifecycle/runner.js';
import { unsafeReason } from '../parts/discover.js';
import { pluginDirs } from '../providers/registry.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { which } from './which.js';

type Level = 'ok' | 'warn' | 'fail';
interface Finding {
  level: Level;
  subject: string;
  message: string;
}

// Runs every check and prints a table (or JSON); exit 1 when anything failed.
export async function checkCommand(_args: unknown[], options: GlobalOptions): Promise<number> {
  const log = createLogger(options);
  const root = loadRoot(options);
  const all = loadModules(root, []);
  const modules = all.filter((m) => m.enabled);
  const findings: Finding[] = [{ level: 'ok', subject: root.file ?? path.join(root.root, 'lifeboat.yaml'), message: `configuration valid (${modules.length} enabled module(s))` }];
  findings.push(...checkBinaries(root, modules));
  findings.push(...checkFiles(root, modules));
  for (const module of all) if (!module.enabled) findings.push({ level: 'warn', subject: `module ${module.name}`, message: 'DISABLED (enabled: false): it is never backed up' });
  findings.push(...checkStaleness(root, modules));
  for (const f of findings) if (f.level !== 'ok' && f.subject.startsWith('module ')) log.warn(`${f.subject}: ${f.message}`);
  const failed = findings.some((f) => f.level === 'fail');
  if (options.json) printJson({ ok: !failed, findings });
  else process.stdout.write(renderTable(['RESULT', 'WHAT', 'DETAILS'], findings.map((f) => [f.level.toUpperCase(), f.subject, f.message])));
  return failed ? 1 : 0;
}

// Modules whose last success is older than twice their schedule's interval (or that never succeeded
// but failed) fail the check; a scheduled module that never ran is a warning.
function checkStaleness(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const findings: Finding[] = [];
  for (const s of moduleStatuses(root.stateDir, modules)) {
    const subject = `module ${s.module}`;
    if (!s.schedule) findings.push({ level: 'warn', subject, message: 'no schedule (schedule: in module.yaml or defaults.schedule in lifeboat.yaml): never backed up on its own' });
    else if (s.stale && s.lastSuccess) findings.push({ level: 'fail', subject, message: `STALE: last success ${formatDuration(s.ageSeconds)} ago, older than twice its schedule interval (${formatDuration(s.staleAfterSeconds)}); last failure: ${s.lastError ?? 'none recorded'}` });
    else if (s.stale) findings.push({ level: 'fail', subject, message: `STALE: never backed up successfully; last failure: ${s.lastError ?? 'unknown'}` });
    else if (s.state === 'never-run') findings.push({ level: 'warn', subject, message: 'never backed up yet' });
    else findings.push({ level: 'ok', subject, message: `last success ${formatDuration(s.ageSeconds)} ago` });
  }
  return findings;
}

// Which tools the configuration needs, and whether they are on PATH.
function checkBinaries(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const needed = new Map<string, string>();
  for (const [name, repo] of Object.entries(root.global.repositories)) {
    if (repo.provider === 'restic') needed.set('restic', `repository ${name}`);
    if (repo.provider === 'borg') needed.set('borg', `repository ${name}`);
    if (repo.provider === 'tar' && (repo.compression ?? 'zstd') === 'zstd') needed.set('zstd', `repository ${name}`);
  }
  for (const module of modules) {
    for (const db of module.databases) {
      if ('postgres' in db) needed.set('pg_dump', `module ${module.name}`);
      if ('mysql' in db) needed.set(which('mariadb-dump') ? 'mariadb-dump' : 'mysqldump', `module ${module.name}`);
      if ('sqlite' in db) needed.set('sqlite3', `module ${module.name}`);
    }
    if (module.service?.systemd) needed.set('systemctl', `module ${module.name}`);
    if (module.service?.container) needed.set(module.service.engine ?? (which('podman') ? 'podman' : 'docker'), `module ${module.name}`);
  }
  return [...needed].map(([tool, user]) => {
    const found = which(tool);
    return found
      ? { level: 'ok' as Level, subject: tool, message: `found at ${found} (needed by ${user})` }
      : { level: 'fail' as Level, subject: tool, message: `not found on PATH, needed by ${user}; install it (Debian: apt-get install ${tool === 'borg' ? 'borgbackup' : tool})` };
  });
}

// Parts, plugins and environment files that must not be writable by others (SPEC 6).
function checkFiles(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const module of modules) {
    for (const action of Object.keys(ACTIONS) as Action[]) {
      for (const { parts } of planAction({ root, module, action })) {
        for (const part of parts) {
          if (seen.has(part.path)) continue;
          seen.add(part.path);
          if (part.status === 'refused') findings.push({ level: 'fail', subject: part.path, message: `part refused: ${part.reason}` });
          if (part.status === 'skipped') findings.push({ level: 'warn', subject: part.path, message: `part skipped: ${part.reason}` });
        }
      }
    }
    for (const bin of ['module-dump-state', 'module-cleanup-state']) findings.push(...fileSafety(path.join(module.dir, 'bin', bin), 'module script'));
  }
  findings.push(...envFileSafety(path.join(root.root, 'environment')), ...ignoredKeyFindings(path.join(root.root, 'environment'), root.rootEnv));
  for (const module of modules) findings.push(...envFileSafety(module.envFile), ...ignoredKeyFindings(module.envFile, module.env));
  for (const kind of new Set(Object.values(root.global.repositories).map((r) => r.provider))) {
    const dir = pluginDirs(kind, root)[0].dir;
    if (existsSync(dir)) findings.push(...fileSafety(dir, 'plugin'));
  }
  return findings;
}

// A refused finding when a file is writable by others or owned by another user.
function fileSafety(file: string, what: string): Finding[] {
  if (!existsSync(file)) return [];
  const reason = unsafeReason(statSync(file));
  return reason ? [{ level: 'fail', subject: file, message: `${what} refused: ${reason}; fix with chmod go-w or chown root` }] : [];
}

// Keys an environment file may not set (PATH, LD_*, ...): ignored at run time, an error here.
function ignoredKeyFindings(file: string, env: Record<string, string>): Finding[] {
  return ignoredEnvKeys(env).map((key) => ({ level: 'fail' as Level, subject: file, message: `${key} is refused (ignored at run time): ${IGNORED_KEY_REASON}` }));
}

// Environment files hold secrets: writable by others is refused, readable by others is a warning.
function envFileSafety(file: string): Finding[] {
  if (!existsSync(file)) return [];
  const unsafe = fileSafety(file, 'environment file');
  if (unsafe.length) return unsafe;
  const mode = statSync(file).mode;
  if (mode & 0o044) return [{ level: 'warn', subject: file, message: `environment file readable by ${mode & 0o004 ? 'others' : 'group'} (mode ${(mode & 0o777).toString(8)}); it holds secrets: chmod 600` }];
  return [];
}
