// Tools on PATH and files that must be safe (parts, plugins, environment files): what `check` always did.
import { IGNORED_KEY_REASON, ignoredEnvKeys } from '../config/env-file.js';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ACTIONS, type Action } from '../lifecycle/phases.js';
import { planAction } from '../lifecycle/runner.js';
import { unsafeReason } from '../files/permissions.js';
import { builtinProvider, pluginDirs } from '../providers/registry.js';
import { engineOf, entryOf } from '../engines/index.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { which, type ToolNeed } from '../process/which.js';
import { fail, ok, warn, type Finding } from './findings.js';

// Which tools the configuration needs, and whether they are on PATH. Each tool names every user that needs
// it (the repositories the modules back up into, the modules whose databases or service run it).
export function checkBinaries(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const needed = new Map<string, string[]>();
  const packages = new Map<string, string>();
  const add = (tool: string, user: string) => {
    const users = needed.get(tool) ?? [];
    if (!users.includes(user)) users.push(user);
    needed.set(tool, users);
  };
  const need = (tools: ToolNeed[], user: string) => {
    for (const { tool, package: pkg } of tools) {
      add(tool, user);
      if (pkg) packages.set(tool, pkg);
    }
  };
  // What each built-in provider and each engine declares it runs (plugins/<kind>/declaration.ts, src/engines/).
  const used = new Set(modules.flatMap((module) => module.repositories));
  for (const [name, repo] of Object.entries(root.global.repositories)) if (used.has(name)) need(builtinProvider(repo.provider)?.tools(repo) ?? [], `repository ${name}`);
  for (const module of modules) {
    for (const db of module.databases) {
      const { kind, config } = entryOf(db);
      need(engineOf(kind).tools(config), `module ${module.name}`);
    }
    if (module.service?.systemd) add('systemctl', `module ${module.name}`);
    if (module.service?.container) add(module.service.engine ?? (which('podman') ? 'podman' : 'docker'), `module ${module.name}`);
  }
  return [...needed].map(([tool, users]) => {
    const found = which(tool);
    const by = users.join(', ');
    return found ? ok(tool, `found at ${found} (needed by ${by})`) : fail(tool, `not found on PATH, needed by ${by}; install it (Debian: apt-get install ${packages.get(tool) ?? tool})`);
  });
}

// Parts, plugins and environment files that must not be writable by others; refused and skipped parts.
export function checkFiles(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const module of modules) {
    for (const action of Object.keys(ACTIONS) as Action[]) {
      for (const { parts } of planAction({ root, module, action })) {
        for (const part of parts) {
          if (seen.has(part.path)) continue;
          seen.add(part.path);
          if (part.status === 'refused') findings.push(fail(part.path, `part refused: ${part.reason}`));
          if (part.status === 'skipped') findings.push(warn(part.path, `part skipped: ${part.reason}`));
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
// Keys an environment file may not set (PATH, LD_*, ...): ignored at run time, an error here.
function ignoredKeyFindings(file: string, env: Record<string, string>): Finding[] {
  return ignoredEnvKeys(env).map((key) => fail(file, `${key} is refused (ignored at run time): ${IGNORED_KEY_REASON}`));
}

function fileSafety(file: string, what: string): Finding[] {
  if (!existsSync(file)) return [];
  const reason = unsafeReason(statSync(file));
  return reason ? [fail(file, `${what} refused: ${reason}; fix with chmod go-w or chown root`)] : [];
}

// Environment files hold secrets: writable by others is refused, readable by others is a warning.
function envFileSafety(file: string): Finding[] {
  if (!existsSync(file)) return [];
  const unsafe = fileSafety(file, 'environment file');
  if (unsafe.length) return unsafe;
  const mode = statSync(file).mode;
  if (mode & 0o044) return [warn(file, `environment file readable by ${mode & 0o004 ? 'others' : 'group'} (mode ${(mode & 0o777).toString(8)}); it holds secrets: chmod 600`)];
  return [];
}
