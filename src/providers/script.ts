// Script providers (SPEC 5, the Clan contract): a folder with executables create, list and restore,
// optionally forget, check and init.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { LifeboatError } from '../errors.js';
import { runTool } from './exec.js';
import { applyRetention } from './retention.js';
import type { CommonOptions, Provider, ProviderInput, ProviderSnapshot } from './types.js';

export const SCRIPT_OPERATIONS = ['create', 'list', 'restore'];

interface ListedEntry {
  name?: unknown;
  time?: unknown;
  module?: unknown;
  host?: unknown;
}

// Adapts a folder of scripts to the Provider interface.
export function createScriptProvider(kind: string, dir: string, input: ProviderInput): Provider {
  const script = (name: string) => path.join(dir, name);
  const hasForget = existsSync(script('forget'));
  const hasCheck = existsSync(script('check'));
  // Provider scripts run like parts: with the module's umask (LIFEBOAT_UMASK from the part environment), 022 by default.
  const umaskOf = (options: CommonOptions) => {
    const value = options.env?.LIFEBOAT_UMASK;
    return value && /^0?[0-7]{3,4}$/.test(value) ? parseInt(value, 8) : 0o022;
  };
  const scriptEnv = (options: CommonOptions, extra: Record<string, string>) => ({
    ...(options.env ?? process.env),
    ...input.config.env,
    LIFEBOAT_REPOSITORY: input.name,
    LIFEBOAT_REPOSITORY_URL: input.config.url ?? '',
    ...extra,
  });

  // Runs `list` and checks its output is a JSON array of {name, time?, module?}.
  async function list(module: string, options: CommonOptions): Promise<ProviderSnapshot[]> {
    const { stdout } = await runTool(script('list'), [], { ...options, umask: umaskOf(options), env: scriptEnv(options, { LIFEBOAT_MODULE: module, MODULE_ID: module }), dryRun: false });
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout.trim() || '[]');
    } catch {
      throw new LifeboatError('PROVIDER', `${script('list')} printed something that is not JSON: ${JSON.stringify(stdout.slice(0, 80))}; it must print a JSON array of objects with "name"`);
    }
    if (!Array.isArray(parsed)) throw new LifeboatError('PROVIDER', `${script('list')} must print a JSON array, got ${typeof parsed}`);
    const snapshots: ProviderSnapshot[] = [];
    parsed.forEach((raw: ListedEntry, index) => {
      if (!raw || typeof raw.name !== 'string' || raw.name === '') {
        throw new LifeboatError('PROVIDER', `${script('list')}: entry ${index} has no "name" string: ${JSON.stringify(raw).slice(0, 80)}`);
      }
      if (typeof raw.module === 'string' && raw.module !== module) return;
      const time = typeof raw.time === 'string' && !Number.isNaN(Date.parse(raw.time)) ? new Date(raw.time).toISOString() : new Date(index * 1000).toISOString();
      snapshots.push({ id: raw.name, time, module, repository: input.name, host: typeof raw.host === 'string' ? raw.host : undefined, tags: [] });
    });
    return snapshots.sort((a, b) => a.time.localeCompare(b.time));
  }

  return {
    kind,
    capabilities: { forget: hasForget, check: hasCheck },
    list,
    // Runs `create`; its last stdout line names the snapshot, else the newest new entry of `list` does.
    async create(options) {
      const before = options.dryRun ? [] : await list(options.module, options);
      const env = scriptEnv(options, { FOLDERS: options.paths.join(':'), LIFEBOAT_MODULE: options.module, MODULE_ID: options.module });
      const { stdout } = await runTool(script('create'), [], { ...options, umask: umaskOf(options), env });
      if (options.dryRun) return { snapshot: { id: 'dry-run', time: new Date().toISOString(), module: options.module, repository: input.name, tags: options.tags } };
      const after = await list(options.module, options);
      const printed = stdout.trim().split('\n').at(-1)?.trim();
      const known = new Set(before.map((s) => s.id));
      const snapshot = (printed && after.find((s) => s.id === printed)) || after.filter((s) => !known.has(s.id)).at(-1);
      if (!snapshot) {
        throw new LifeboatError('PROVIDER', `${script('create')} exited 0 but ${script('list')} shows no new snapshot for module ${options.module}; the backup did not happen`);
      }
      return { snapshot: { ...snapshot, host: snapshot.host ?? options.host, tags: options.tags } };
    },
    // Runs `restore` with NAME, FOLDERS and LIFEBOAT_TARGET.
    async restore(options) {
      const env = scriptEnv(options, {
        NAME: options.snapshot.id,
        FOLDERS: (options.include ?? options.snapshot.paths ?? []).join(':'),
        LIFEBOAT_TARGET: options.target,
        LIFEBOAT_MODULE: options.module,
        MODULE_ID: options.module,
      });
      await runTool(script('restore'), [], { ...options, umask: umaskOf(options), env });
    },
    forget: hasForget
      ? async (module, retention, options) => {
          const { kept, removed } = applyRetention(await list(module, options), retention);
          for (const snapshot of removed) {
            await runTool(script('forget'), [], { ...options, umask: umaskOf(options), env: scriptEnv(options, { NAME: snapshot.id, LIFEBOAT_MODULE: module, MODULE_ID: module }) });
          }
          return { kept, removed };
        }
      : undefined,
    check: hasCheck
      ? async (module, options) => {
          await runTool(script('check'), [], { ...options, umask: umaskOf(options), env: scriptEnv(options, { LIFEBOAT_MODULE: module, MODULE_ID: module }) });
        }
      : undefined,
  };
}
