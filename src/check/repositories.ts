// Every repository a module writes to must open: password present and right, reachable, initialised or
// creatable. Listing the module's snapshots does exactly what a backup's first provider call does
// (restic snapshots, borg list, tar's listing of its folder and bucket).
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
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
        const leftovers = (await provider.leftovers?.(module.name, { log: quiet(log), signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), env }).catch(() => [] as string[])) ?? [];
        if (leftovers.length > 0) {
          findings.push(warn(subject, `unfinished files of an earlier run (not snapshots; a run killed during its upload leaves them): ${leftovers.join(', ')}; remove them (\`rm\` the local files; an unfinished upload is aborted by the next backup)`));
        }
        const wrongSizes = (await provider.sizeProblems?.(module.name, { log: quiet(log), signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), env }).catch(() => [] as string[])) ?? [];
        if (wrongSizes.length > 0) {
          findings.push(fail(subject, `stored objects differ in size from what their manifest records (cut short or damaged): ${wrongSizes.join('; ')}; restore another snapshot, and run \`lifeboat verify ${module.name}\``));
          continue;
        }
        if (snapshots.length > 0 && provider.preflightRestore) {
          // An encrypted repository (tar): the newest snapshot's sealed part must open with the key.
          const newest = snapshots[snapshots.length - 1];
          const opened = await provider.preflightRestore(module.name, newest, { log: quiet(log), signal: AbortSignal.timeout(OPEN_TIMEOUT_MS), env }).then(
            () => undefined,
            // The fix a provider gives as the hint (a wrong key: which setting to correct) is kept.
            (error: unknown) => log.masker.mask(describeError(error).split('\n')[0] + (error instanceof LifeboatError && error.hint ? `; ${error.hint}` : '')),
          );
          if (opened !== undefined) {
            // A backup host may hold the recipients only, by design: no identity is a warning there.
            const noIdentity = config.recipients !== undefined && config.identityFile === undefined;
            findings.push((noIdentity ? warn : fail)(subject, `snapshot ${newest.id} does not open: ${opened}`));
            continue;
          }
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
