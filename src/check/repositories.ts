// Every repository a module writes to must open: password present and right, reachable, initialised or
// creatable. Listing the module's snapshots does exactly what a backup's first provider call does
// (restic snapshots, borg list, tar's listing of its folder and bucket).
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RepositoryConfig, RootConfig } from '../config/types.js';
import type { Provider, ProviderSnapshot } from '../providers/types.js';
import { describeError, LifeboatError } from '../errors.js';
import { Logger } from '../log/logger.js';
import { repositoriesFor, vanishedRepository } from '../lifecycle/repositories.js';
import { builtinProvider, openProvider } from '../providers/registry.js';
import { fail, ok, warn, type Finding } from './findings.js';

// How long one repository may take to answer before it counts as unreachable.
const OPEN_TIMEOUT_MS = 120_000;

// One finding per module and repository.
export async function checkRepositories(root: RootConfig, modules: ModuleConfig[], log: Logger, only?: string[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  const settingsSeen = new Set<string>();
  for (const module of modules) {
    for (const name of repositoriesFor(root, module, only)) {
      const subject = `repository ${name} (module ${module.name})`;
      const config = root.global.repositories[name];
      // The provider's own checks of its settings (plugins/<kind>/declaration.ts), once per repository.
      const declared = config ? builtinProvider(config.provider) : undefined;
      if (config && declared?.checkSettings && !settingsSeen.has(name)) {
        settingsSeen.add(name);
        findings.push(...declared.checkSettings(name, config, root.root));
      }
      try {
        const provider = await openProvider(name, root, (...values) => log.masker.add(...values));
        const env = { ...process.env, ...root.rootEnv, ...module.env } as Record<string, string>;
        const snapshots = await provider.list(module.name, { log: quiet(log), signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), env, fresh: true });
        const others = [...new Set(snapshots.filter((s) => s.host !== undefined && s.host !== root.host).map((s) => s.host))];
        if (others.length > 0) {
          const count = snapshots.filter((s) => s.host !== undefined && s.host !== root.host).length;
          findings.push(warn(subject, `holds ${count} snapshot(s) of module ${module.name} from other host(s) (${others.join(', ')}); this host (${root.host}) leaves them alone (retention, restore without an id and drills take its own): give each host its own repository or module name, or set host: in lifeboat.yaml when this host replaces that one`));
        }
        const ahead = datedInFuture(snapshots);
        if (ahead.length > 0) {
          findings.push(warn(subject, `holds ${ahead.length} snapshot(s) dated in the future: ${ahead.map((s) => `${s.id} (${s.time})`).join(', ')}; the clock was wrong when they were made (or is wrong now): \`restore\` without an id takes the newest by date, which is one of them, and retention counts them as the newest; restore by id (\`lifeboat snapshots ${module.name}\`) and \`lifeboat forget\` them once the clock is right`));
        }
        const leftovers = (await provider.leftovers?.(module.name, { log: quiet(log), signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), env }).catch(() => [] as string[])) ?? [];
        if (leftovers.length > 0) {
          findings.push(warn(subject, `unfinished files of an earlier run (not snapshots; a run killed during its upload leaves them): ${leftovers.join(', ')}; remove them (\`rm\` the local files; an unfinished upload is aborted by the next backup)`));
        }
        const wrongSizes = (await provider.sizeProblems?.(module.name, { log: quiet(log), signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), env }).catch(() => [] as string[])) ?? [];
        if (wrongSizes.length > 0) {
          findings.push(fail(subject, `stored objects differ in size from what their manifest records (cut short or damaged): ${wrongSizes.join('; ')}; restore another snapshot, and run \`lifeboat verify ${module.name}\``));
          continue;
        }
        const opened = await newestDoesNotOpen(provider, module.name, snapshots, log, env);
        if (opened !== undefined) {
          // A backup host may hold the recipients only, by design: no identity is a warning there.
          findings.push((holdsNoKey(config) ? warn : fail)(subject, `snapshot ${snapshots[snapshots.length - 1].id} does not open: ${opened}`));
          continue;
        }
        if (snapshots.length > 0) {
          findings.push(ok(subject, `opens: ${snapshots.length} snapshot(s), the newest from ${snapshots[snapshots.length - 1].time}`));
          continue;
        }
        const vanished = vanishedRepository(root, module.name, name);
        if (vanished) {
          findings.push(fail(subject, vanished));
          continue;
        }
        const url = root.global.repositories[name].url;
        const blocked = url?.startsWith('/') ? unwritableAncestor(url) : undefined;
        if (blocked) findings.push(fail(subject, `has no snapshots yet and cannot be created: ${blocked} is not writable; create ${url} or fix its permissions`));
        else findings.push(ok(subject, 'opens: no snapshots yet (the first backup creates it)'));
      } catch (error) {
        // A key of lifeboat.yaml the provider refused names its own fix; anything else is about reaching the repository.
        // A repository without a password (a tar repository without a passphrase) is not told to check one.
        const repository = root.global.repositories[name];
        const password = repository?.provider !== 'tar' || repository.passwordFile !== undefined || repository.passwordCommand !== undefined;
        // A repository lock another process holds (borg's lock timeout) is no url or password problem.
        const busy = error instanceof LifeboatError && / holds the repository lock /.test(error.message);
        const fix = busy
          ? `; ${error.hint}`
          : error instanceof LifeboatError && error.code === 'CONFIG_INVALID' && error.message.startsWith('lifeboat.yaml: ')
            ? ''
            : `; check its url${password ? ', password (passwordFile / passwordCommand)' : ''} and that it is reachable`;
        findings.push(fail(subject, `cannot be opened: ${log.masker.mask(describeError(error).split('\n')[0])}${fix}`));
      }
    }
  }
  return findings;
}

// How far ahead of this host's clock a snapshot's time may be before it counts as dated in the future
// (clocks of two hosts sharing a repository differ by a little).
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

// The snapshots dated after this host's clock (beyond the tolerance).
export function datedInFuture<T extends { time: string }>(snapshots: T[], now = Date.now()): T[] {
  return snapshots.filter((s) => Date.parse(s.time) > now + FUTURE_TOLERANCE_MS);
}

// An encrypted repository (tar): the reason the newest snapshot's sealed part does not open with the
// configured key, or undefined when it opens (or the repository is not encrypted, or holds nothing).
async function newestDoesNotOpen(provider: Provider, module: string, snapshots: ProviderSnapshot[], log: Logger, env: Record<string, string>): Promise<string | undefined> {
  if (snapshots.length === 0 || !provider.preflightRestore) return undefined;
  return provider.preflightRestore(module, snapshots[snapshots.length - 1], { log: quiet(log), signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), env }).then(
    () => undefined,
    // The fix a provider gives as the hint (a wrong key: which setting to correct) is kept.
    (error: unknown) => log.masker.mask(describeError(error).split('\n')[0] + (error instanceof LifeboatError && error.hint ? `; ${error.hint}` : '')),
  );
}

// A repository this host only encrypts to (recipients without identityFile): it cannot open its archives.
function holdsNoKey(config: RepositoryConfig): boolean {
  return config.recipients !== undefined && config.identityFile === undefined;
}

// Before a backup writes into a keyed tar repository, the module's newest snapshot there must open with
// the configured key: a changed passphrase or identity would otherwise make archives only the old key
// opens, and retention would then delete the ones made with it. Refuses the backup (exit 2) naming the
// repository and the fix. Restic and borg refuse a wrong password by themselves.
export async function assertKeyOpens(root: RootConfig, selected: { module: ModuleConfig; repositories: string[] }[], log: Logger): Promise<void> {
  const problems: string[] = [];
  for (const { module, repositories } of selected) {
    for (const name of repositories) {
      const config = root.global.repositories[name];
      const keyed = config.provider === 'tar' && (config.passwordFile !== undefined || config.passwordCommand !== undefined || config.identityFile !== undefined);
      if (!keyed || holdsNoKey(config)) continue;
      const provider = await openProvider(name, root, (...values) => log.masker.add(...values));
      const env = { ...process.env, ...root.rootEnv, ...module.env } as Record<string, string>;
      const snapshots = await provider.list(module.name, { log: quiet(log), signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), env, fresh: true }).catch(() => [] as ProviderSnapshot[]);
      const reason = await newestDoesNotOpen(provider, module.name, snapshots, log, env);
      if (reason === undefined) continue;
      problems.push(
        `repository ${name}: the newest snapshot of module ${module.name} does not open with the configured key: ${reason}; a backup with another key would let retention delete the archives only the earlier key opens (or move the old archives aside to start the repository anew)`,
      );
    }
  }
  if (problems.length > 0) throw new LifeboatError('CONFIG_INVALID', problems.join('; '), { problems });
}

// The nearest existing folder above `dir` when it is not writable (so the repository cannot be created).
function unwritableAncestor(dir: string): string | undefined {
  let current = dir;
  while (!existsSync(current) && path.dirname(current) !== current) current = path.dirname(current);
  try {
    accessSync(current, constants.W_OK);
    return undefined;
  } catch {
    return current;
  }
}

// A child logger that keeps the provider's own info lines out of the check's table.
function quiet(log: Logger): Logger {
  return new Logger({ level: 'error', masker: log.masker, sink: { write: () => undefined } });
}
