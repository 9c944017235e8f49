// Script providers (README "Providers", the Clan contract): a folder with executables create, list and restore,
// optionally forget, check and init.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError, describeError } from '../errors.js';
import { isDirectory } from '../files/file-kind.js';
import { runTool } from '../process/exec.js';
import { acquireLock } from '../state/lock.js';
import { SAFETY_TAG } from './kinds.js';
import { addRecord, foldersToRestore, lateFile, lateSnapshotOf, readLateCreates, readRecords, recordsFile, removeRecord, writeLateCreates } from './script-records.js';
import { canUseNamespace, namespaceArgs, planRedirects, removeCreated, writableMounts } from './script-namespace.js';
import type { CommonOptions, CreateOptions, CreateResult, Provider, ProviderInput, ProviderSnapshot } from './types.js';
import type { LateCreate, Records } from './script-records.js';

export const SCRIPT_OPERATIONS = ['create', 'list', 'restore'];
// How long a create may take to show its snapshot in `list` after it returned (the repository's
// `options: { createWait: SECONDS }` changes it).
const DEFAULT_CREATE_WAIT_MS = 20_000;
// How long a late create (its snapshot not listed yet) blocks the next create in the repository before it is given
// up (the repository's `options: { lateCreateLimit: SECONDS }` changes it).
const DEFAULT_LATE_LIMIT_S = 3600;
// How long a create waits for another module's create in the same repository (its backup may be large).
const CREATE_LOCK_WAIT_S = 24 * 3600;

interface ListedEntry {
  name?: unknown;
  time?: unknown;
  module?: unknown;
  host?: unknown;
  kind?: unknown;
}

// Adapts a folder of scripts to the Provider interface.
export function createScriptProvider(kind: string, dir: string, input: ProviderInput): Provider {
  const script = (name: string) => path.join(dir, name);
  const hasForget = existsSync(script('forget'));
  const hasCheck = existsSync(script('check'));
  const records = recordsFile(input.root.stateDir, input.name);
  const late = lateFile(input.root.stateDir, input.name);
  // `options: { listPerModule: true }`: the script's list prints only LIFEBOAT_MODULE's snapshots, so an
  // entry without "module" is the asked module's even when Lifeboat did not record it.
  const listPerModule = input.config.options?.listPerModule === true;
  const unattributedWarned = new Set<string>();
  // The names the last list() left out because they name no module and were not recorded (see unlisted).
  let lastUnattributed: string[] = [];
  const createWait = input.config.options?.createWait;
  const CREATE_WAIT_MS = typeof createWait === 'number' && createWait >= 0 ? createWait * 1000 : DEFAULT_CREATE_WAIT_MS;
  const lateLimit = input.config.options?.lateCreateLimit;
  const LATE_LIMIT_MS = (typeof lateLimit === 'number' && lateLimit >= 0 ? lateLimit : DEFAULT_LATE_LIMIT_S) * 1000;
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

  // Runs `list` and checks its output is a JSON array of {name, time?, module?, host?, kind?}; what it
  // leaves out (module, time, tags and so the kind, paths) comes from Lifeboat's record of what `create` made.
  // With `claim` (create's own before/after listing), entries that name no module and were not recorded
  // count for the module too, without a warning: create finds its new snapshot among them.
  async function list(module: string, options: CommonOptions, claim = false): Promise<ProviderSnapshot[]> {
    const { stdout } = await runTool(script('list'), [], { ...options, umask: umaskOf(options), env: scriptEnv(options, { LIFEBOAT_MODULE: module, MODULE_ID: module }), dryRun: false });
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout.trim() || '[]');
    } catch {
      throw new LifeboatError('PROVIDER', `${script('list')} printed something that is not JSON: ${JSON.stringify(stdout.slice(0, 80))}; it must print a JSON array of objects with "name"`);
    }
    if (!Array.isArray(parsed)) throw new LifeboatError('PROVIDER', `${script('list')} must print a JSON array, got ${typeof parsed}`);
    const snapshots: ProviderSnapshot[] = [];
    const known = readRecords(records);
    const unrecorded = parsed.filter((raw: ListedEntry) => raw && typeof raw.name === 'string' && typeof raw.module !== 'string' && !Object.hasOwn(known, raw.name)).map((raw: ListedEntry) => raw.name as string);
    Object.assign(known, adoptLate(unrecorded, options));
    const unattributed: string[] = [];
    parsed.forEach((raw: ListedEntry, index) => {
      if (!raw || typeof raw.name !== 'string' || raw.name === '') {
        throw new LifeboatError('PROVIDER', `${script('list')}: entry ${index} has no "name" string: ${JSON.stringify(raw).slice(0, 80)}`);
      }
      // What Lifeboat recorded when its create made this snapshot fills in a missing module and time.
      const record = Object.hasOwn(known, raw.name) ? known[raw.name] : undefined;
      const owner = typeof raw.module === 'string' ? raw.module : record?.module;
      if (owner === undefined && !listPerModule && !claim) {
        unattributed.push(raw.name);
        return;
      }
      if (owner !== undefined && owner !== module) return;
      const listed = typeof raw.time === 'string' && !Number.isNaN(Date.parse(raw.time)) ? new Date(raw.time).toISOString() : undefined;
      // Unknown: '' sorts before every date (so `latest` is never an undated entry), by place in the list.
      const time = listed ?? record?.time ?? '';
      const tags = [...(record?.tags ?? [])];
      if (raw.kind === 'safety' && !tags.includes(SAFETY_TAG)) tags.push(SAFETY_TAG);
      snapshots.push({ id: raw.name, time, module, repository: input.name, host: typeof raw.host === 'string' ? raw.host : record?.host, tags, ...(record ? { paths: record.paths } : {}) });
    });
    if (!claim) lastUnattributed = unattributed;
    const fresh = unattributed.filter((name) => !unattributedWarned.has(name));
    if (fresh.length > 0) {
      for (const name of fresh) unattributedWarned.add(name);
      options.log.warn(
        `repository "${input.name}": ${fresh.length} snapshot(s) name no module and Lifeboat did not record them (${fresh.slice(0, 3).join(', ')}${fresh.length > 3 ? ', ...' : ''}): not shown for any module; if ${script('list')} prints only the snapshots of LIFEBOAT_MODULE, set options: { listPerModule: true } on the repository`,
      );
    }
    return snapshots.sort((a, b) => a.time.localeCompare(b.time));
  }

  // Before a create (after its listing adopted what appeared): a late create whose snapshot has not
  // appeared blocks it until its `until` (then it is given up): a new entry could be either's, and a
  // wrong guess records one run's archive as another's (a printed name is no proof: a script may print
  // something else last).
  function settleLate(module: string, options: CommonOptions): void {
    const pending = readLateCreates(late);
    const now = Date.now();
    const expired = pending.filter((entry) => !(Date.parse(entry.until ?? '') > now));
    if (expired.length > 0) {
      writeLateCreates(late, pending.filter((entry) => !expired.includes(entry)));
      for (const entry of expired) options.log.warn(`repository "${input.name}": the create of module ${entry.module} started ${entry.time} never showed a snapshot; given up (one that appears now is not attributed to any module)`);
    }
    const blocking = pending.find((entry) => !expired.includes(entry));
    if (!blocking) return;
    const which = module === blocking.module ? `the earlier create of module ${module}` : `the create of module ${blocking.module}`;
    throw new LifeboatError(
      'PROVIDER',
      `repository "${input.name}": ${which} started ${blocking.time} has not shown its snapshot yet (that backup was reported failed; its script may still be writing it); a new snapshot could not be told apart from it, so the backup of module ${module} did not run`,
      {
        hint: `back up again once that snapshot is listed (\`lifeboat snapshots ${blocking.module} --repo ${input.name}\` records it for module ${blocking.module}), or after ${blocking.until} when Lifeboat gives that create up (options: { lateCreateLimit: SECONDS } on the repository, default ${DEFAULT_LATE_LIMIT_S}); if that create will never finish (its process is gone), remove ${late}`,
      },
    );
  }

  // The one unrecorded entry that appeared after a create whose wait ran out is that create's snapshot:
  // it is recorded with the module, start time and paths of that create (and the late create settled).
  function adoptLate(unrecorded: string[], options: CommonOptions): Records {
    const adopted: Records = {};
    // Those that printed a name first: their entry is known, the others take what is left.
    const pending = readLateCreates(late).sort((a, b) => Number(typeof b.name === 'string') - Number(typeof a.name === 'string'));
    const settled = new Set<LateCreate>();
    for (const entry of pending) {
      const name = lateSnapshotOf(entry, unrecorded.filter((n) => !Object.hasOwn(adopted, n)));
      if (name === undefined) continue;
      const { before: _before, ...record } = entry;
      addRecord(records, name, record);
      adopted[name] = record;
      settled.add(entry);
      options.log.warn(`repository "${input.name}": snapshot ${name} appeared after Lifeboat stopped waiting for its create (module ${entry.module}, started ${entry.time}; that backup was reported failed); recorded as a snapshot of module ${entry.module} from ${entry.time}`);
    }
    if (settled.size > 0) writeLateCreates(late, pending.filter((entry) => !settled.has(entry)));
    return adopted;
  }

  // create's work, with the repository's create lock held.
  async function createLocked(options: CreateOptions): Promise<CreateResult> {
    // (A snapshot of an earlier late create that is listed by now is adopted here; one that is not
    // blocks this create, see settleLate.)
    const before = options.dryRun ? [] : await list(options.module, options, true);
    if (!options.dryRun) settleLate(options.module, options);
    const started = new Date().toISOString();
    const snapshotKind = options.tags.includes(SAFETY_TAG) ? 'safety' : 'backup';
    const env = scriptEnv(options, { FOLDERS: options.paths.join(':'), LIFEBOAT_MODULE: options.module, MODULE_ID: options.module, LIFEBOAT_SNAPSHOT_KIND: snapshotKind });
    const { stdout } = await runTool(script('create'), [], { ...options, umask: umaskOf(options), env });
    if (options.dryRun) return { snapshot: { id: 'dry-run', time: started, module: options.module, repository: input.name, tags: options.tags } };
    const printed = stdout.trim().split('\n').at(-1)?.trim();
    const known = new Set(before.map((s) => s.id));
    let snapshot: ProviderSnapshot | undefined;
    for (let waited = 0; ; ) {
      const after = await list(options.module, options, true);
      const fresh = after.filter((s) => !known.has(s.id));
      snapshot = (printed && fresh.find((s) => s.id === printed)) || fresh.at(-1);
      if (snapshot || waited >= CREATE_WAIT_MS || options.signal?.aborted) break;
      const delay = Math.min(200 * 2 ** Math.min(waited / 1000, 4), CREATE_WAIT_MS - waited);
      await new Promise((resolve) => setTimeout(resolve, delay));
      waited += delay;
    }
    if (!snapshot) {
      // It may still appear: the next list adopts it for this module (adoptLate), dated by this start.
      const pending = readLateCreates(late);
      const until = new Date(Date.now() + LATE_LIMIT_MS).toISOString();
      writeLateCreates(late, [...pending, { module: options.module, time: started, paths: options.paths, tags: options.tags, host: options.host, before: [...known], ...(printed ? { name: printed } : {}), until }]);
      throw new LifeboatError('PROVIDER', `${script('create')} exited 0 but ${script('list')} shows no new snapshot for module ${options.module} (waited ${CREATE_WAIT_MS / 1000}s); the backup did not happen`);
    }
    // A list without times dates it by when this create started.
    const time = snapshot.time || started;
    addRecord(records, snapshot.id, { module: options.module, time, paths: options.paths, tags: options.tags, host: snapshot.host ?? options.host });
    return { snapshot: { ...snapshot, time, paths: options.paths, host: snapshot.host ?? options.host, tags: options.tags } };
}

  return {
    kind,
    capabilities: { forget: hasForget, check: hasCheck },
    list: (module, options) => list(module, options),
    // A fresh host: the records of what create made (module, time, paths) are in the old host's state dir.
    unlisted(module, ref) {
      const wanted = ref === undefined || ref === 'latest' ? undefined : ref;
      const names = wanted === undefined ? lastUnattributed : lastUnattributed.filter((name) => name === wanted || (!lastUnattributed.includes(wanted) && name.startsWith(wanted)));
      if (names.length === 0 || (wanted !== undefined && names.length > 1)) return undefined;
      const which = wanted === undefined ? `${names.length} snapshot(s) that ${script('list')} shows (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}) name no module` : `snapshot "${names[0]}" is listed by ${script('list')} but names no module`;
      return {
        message: `${which}, and this host has no record of what create made (${records} has none of them): Lifeboat cannot tell which module's ${wanted === undefined ? 'they are' : 'it is'} nor which paths ${wanted === undefined ? 'they hold' : 'it holds'} (FOLDERS for ${script('restore')}); nothing was changed`,
        hint: `copy providers/${input.name}/snapshots.json from the state dir of the host that made ${wanted === undefined ? 'them' : 'it'} to ${records} and run the restore again; or, if ${script('list')} prints only the snapshots of LIFEBOAT_MODULE, set options: { listPerModule: true } on repository "${input.name}" (FOLDERS is then every path of module ${module} as configured here)`,
      };
    },
    // Runs `create`; its last stdout line names the snapshot, else the entry `list` shows afterwards and
    // not before does; a create that returns before its snapshot is listed is waited for (bounded).
    async create(options) {
      if (options.dryRun) return createLocked(options);
      // One create at a time per repository, from the listing before it until its snapshot is adopted or
      // the wait ends: a new unrecorded entry can then only be this create's, never another module's.
      const lock = await acquireLock(path.dirname(records), 'create', {
        log: options.log,
        signal: options.signal,
        waitSeconds: CREATE_LOCK_WAIT_S,
        subject: `the create of another module in repository "${input.name}"`,
        command: `lifeboat backup ${options.module}`,
      });
      try {
        return await createLocked(options);
      } finally {
        lock.release();
      }
    },
    // Runs `restore` with NAME, FOLDERS (exactly the wanted paths the snapshot holds) and LIFEBOAT_TARGET;
    // into a target, in a private mount namespace unless the provider declares `supports-target`.
    async restore(options) {
      try {
        await restoreScript(options);
      } catch (error) {
        const held = options.snapshot.paths ?? readRecords(records)[options.snapshot.id]?.paths;
        if (held !== undefined || options.include === undefined || (error instanceof LifeboatError && error.code !== 'PROVIDER')) throw error;
        // No record (a fresh host, listPerModule): FOLDERS was the module's paths as configured here.
        throw new LifeboatError(
          'PROVIDER',
          `${describeError(error)}; this host has no record of which paths snapshot ${options.snapshot.id} holds (${records} has none), so FOLDERS was every path of module ${options.module} as configured here (${options.include.join(', ')}), and the snapshot may lack some (one created after it)`,
          { hint: `copy providers/${input.name}/snapshots.json from the state dir of the host that made the snapshot to ${records} (FOLDERS is then exactly what it holds), and run the restore again`, cause: error },
        );
      }
    },
    // Runs `forget` once per snapshot retention chose (NAME), then drops it from the record.
    forget: hasForget
      ? async (module, snapshots, options) => {
          for (const snapshot of snapshots) {
            await runTool(script('forget'), [], { ...options, umask: umaskOf(options), env: scriptEnv(options, { NAME: snapshot.id, LIFEBOAT_MODULE: module, MODULE_ID: module }) });
            removeRecord(records, snapshot.id);
          }
        }
      : undefined,
    check: hasCheck
      ? async (module, options) => {
          await runTool(script('check'), [], { ...options, umask: umaskOf(options), env: scriptEnv(options, { LIFEBOAT_MODULE: module, MODULE_ID: module }) });
        }
      : undefined,
  };

  // Runs `restore` (see the provider's restore above).
  async function restoreScript(options: Parameters<Provider['restore']>[0]): Promise<void> {
    const held = options.snapshot.paths ?? readRecords(records)[options.snapshot.id]?.paths;
    const folders = foldersToRestore(held, options.include);
    const env = scriptEnv(options, {
      NAME: options.snapshot.id,
      FOLDERS: folders.join(':'),
      LIFEBOAT_TARGET: options.target,
      LIFEBOAT_MODULE: options.module,
      MODULE_ID: options.module,
    });
    // Nothing of what is wanted is in the snapshot: an empty FOLDERS would mean "everything" to many scripts.
    if (folders.length === 0) {
      options.log.debug(`snapshot ${options.snapshot.id} holds none of ${(options.include ?? []).join(', ')}; nothing to restore`);
      return;
    }
    const tool = { ...options, umask: umaskOf(options), env };
    if (options.target === '/' || existsSync(script('supports-target')) || options.dryRun) {
      await runTool(script('restore'), [], tool);
      return;
    }
    if (!canUseNamespace()) {
      // Not options.target: for `restore --target` it is a staging folder inside the target, removed again.
      throw new LifeboatError('PROVIDER', `${script('restore')}: a restore into a target folder (--target, or verify's scratch restore) needs root (it runs in a private mount namespace so that the script cannot change the live files), or a file ${script('supports-target')} declaring that the script writes only under LIFEBOAT_TARGET`);
    }
    const plan = planRedirects(folders, options.target);
    // Writable in the namespace: the target, a private TMPDIR, the repository when it is a local folder
    // (borg takes a lock in it), and what the repository's `options: { writable: [...] }` names (a
    // tool's cache, e.g. ~/.cache/borg); everything else is read-only.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-restore-'));
    const url = input.config.url;
    const extra = Array.isArray(input.config.options?.writable) ? input.config.options.writable.filter((dir): dir is string => typeof dir === 'string') : [];
    const writable = [options.target, tmp, ...(url && path.isAbsolute(url) ? [url] : []), ...extra].filter((dir) => isDirectory(dir));
    try {
      await runTool('unshare', namespaceArgs(script('restore'), plan.redirects, writableMounts(), writable), { ...tool, env: { ...env, LIFEBOAT_TARGET: '/', TMPDIR: tmp } });
    } catch (error) {
      if (error instanceof Error && /Read-only file system/.test(error.message)) {
        throw new LifeboatError('PROVIDER', `${script('restore')} tried to write outside the target (${describeError(error)}); nothing outside ${options.target} was changed. A restore into a target may write only under LIFEBOAT_TARGET and the live paths of its snapshot (${folders.join(', ')})`, { cause: error });
      }
      throw namespaceFailure(error, script('restore'));
    } finally {
      removeCreated(plan);
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

// `unshare -m failed (exit N): ...` names the wrapper: the script (exec'd by it) or the mounts before it failed.
function namespaceFailure(error: unknown, file: string): unknown {
  const found = error instanceof LifeboatError ? /^unshare -m failed \(exit (\d+)\)(?:: ([\s\S]*))?$/.exec(error.message) : null;
  if (!found) return error;
  const [, code, detail] = found;
  const what = /^(mount|unshare|lifeboat-restore):/.test(detail ?? '') ? `setting up the private mount namespace for ${file} failed (exit ${code})` : `${file} exited with status ${code} (run in a private mount namespace)`;
  return new LifeboatError('PROVIDER', `${what}${detail ? `: ${detail}` : ''}`, { cause: error });
}
