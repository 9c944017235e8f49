// Loads lifeboat.yaml|json, the environment files and modules/<m>/module.yaml|json; every problem at once.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { unsafeReason } from '../files/permissions.js';
import { showPath } from '../files/byte-path.js';
import { quoteArg } from '../process/exec.js';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { LifeboatError, describeError } from '../errors.js';
import { mergeEnvFiles, readEnvFile } from './env-file.js';
import { interpolate, type Unresolved } from './interpolate.js';
import { MODULE_NAME_RE, resolveRoot, resolveStateDir, stateLayout, type PathOptions } from './paths.js';
import type { GlobalConfig, ModuleConfig, ModuleFile, NotifyConfig, RootConfig } from './types.js';
import { validateDocument } from './validate.js';
import { scheduleProblem } from './cron.js';
import { describeYamlError, gluedColon } from './yaml-error.js';
import { encryptionProblems } from './tar-encryption.js';

export const DEFAULT_PART_TIMEOUT = 3600;
export const DEFAULT_KILL_AFTER = 10;

// Loads the root (global settings, root environment, module names); throws CONFIG_INVALID listing every problem.
export function loadRoot(options: PathOptions): RootConfig {
  const root = resolveRoot(options);
  const stateDir = resolveStateDir(options);
  const problems: string[] = [];
  if (!existsSync(root)) {
    throw new LifeboatError('CONFIG_MISSING', `config root ${root} does not exist`, {
      hint: 'run `lifeboat init --root DIR` to create one, or pass --root / set LIFEBOAT_ROOT',
    });
  }
  const notDir = notADirectory(stateDir);
  if (notDir) {
    throw new LifeboatError('USAGE', `state dir ${stateDir} cannot be used: ${notDir}`, {
      hint: 'pass --state-dir (or set LIFEBOAT_STATE_DIR to) a folder, or one that does not exist yet (it is created)',
    });
  }
  const rootEnv = collect(problems, () => readEnvFile(path.join(root, 'environment'), 'environment')) ?? {};
  const found = findConfigFile(root, 'lifeboat', problems);
  let global: GlobalConfig = { repositories: {}, defaults: {}, notify: [] };
  if (found) {
    const raw = parseConfigFile(found.file, found.display, problems);
    if (raw !== undefined) {
      const resolved = resolveReferences(raw, { ...process.env, ...rootEnv }, found.display, problems);
      const errors = validateDocument('lifeboat', resolved, found.display);
      problems.push(...errors);
      if (errors.length === 0 && resolved && typeof resolved === 'object') {
        const doc = resolved as Partial<GlobalConfig>;
        global = { repositories: doc.repositories ?? {}, defaults: doc.defaults ?? {}, notify: doc.notify ?? [], host: doc.host };
        const scheduleError = global.defaults.schedule === undefined ? undefined : scheduleProblem(global.defaults.schedule);
        if (scheduleError) problems.push(`${found.display}: /defaults/schedule ${scheduleError}`);
        const verifyError = global.defaults.verify?.schedule === undefined ? undefined : scheduleProblem(global.defaults.verify.schedule);
        if (verifyError) problems.push(`${found.display}: /defaults/verify/schedule ${verifyError}`);
        global.notify.forEach((entry, index) => problems.push(...notifyProblems(entry, `${found.display}: /notify/${index}`)));
        for (const [name, repository] of Object.entries(global.repositories)) problems.push(...encryptionProblems(repository, `${found.display}: /repositories/${name}`));
      }
    }
  }
  const warnings: string[] = [];
  const moduleNames = listModules(root, warnings);
  if (problems.length > 0) throwProblems(problems);
  return { root, stateDir, file: found?.file, global, rootEnv, host: global.host ?? os.hostname(), moduleNames, warnings };
}

// A module whose files could not be loaded, when every module was asked for: the others still run.
export interface BrokenModule {
  name: string;
  problems: string[];
}

// Loads the named modules (all when none are named); unknown names and invalid files are CONFIG errors.
// With `broken` and no names, an invalid module is put there instead, so one bad file stops only its module.
// How a broken `environment` in a module's state dir is taken: a configuration problem (the default), or,
// for `restore` (which brings the state dir back and so replaces it), a warning passed to `warn`.
export interface LoadOptions {
  brokenStateEnv?: (message: string) => void;
}

export function loadModules(rootConfig: RootConfig, names?: string[], broken?: BrokenModule[], options: LoadOptions = {}): ModuleConfig[] {
  const problems: string[] = [];
  const all = !names || names.length === 0;
  const wanted = all ? rootConfig.moduleNames : names;
  const modules: ModuleConfig[] = [];
  for (const name of wanted) {
    if (all && broken) {
      const own: string[] = [];
      const loaded = loadModule(rootConfig, name, own, options);
      if (loaded) modules.push(loaded);
      else broken.push({ name, problems: own });
      continue;
    }
    if (!MODULE_NAME_RE.test(name)) {
      problems.push(`module name ${JSON.stringify(name)} is invalid: names match ^[a-z0-9][a-z0-9_-]{0,62}$ (lower case letters, digits, _ and -)`);
      continue;
    }
    if (!rootConfig.moduleNames.includes(name)) {
      problems.push(`module "${name}" not found: no modules/${name}/module.yaml in ${rootConfig.root}` + suggestModules(rootConfig.moduleNames));
      continue;
    }
    const loaded = loadModule(rootConfig, name, problems, options);
    if (loaded) modules.push(loaded);
  }
  if (problems.length > 0) throwProblems(problems);
  return modules;
}

// Loads one module directory into a ModuleConfig, pushing problems instead of throwing.
function loadModule(rootConfig: RootConfig, name: string, problems: string[], options: LoadOptions = {}): ModuleConfig | undefined {
  const dir = path.join(rootConfig.root, 'modules', name);
  const envFile = path.join(dir, 'environment');
  const before = problems.length;
  // NethServer layout: `environment` in the module's state dir is a module environment file too (later wins).
  const stateEnvFile = path.join(stateLayout(rootConfig.stateDir).moduleState(name), 'environment');
  const stateEnv = collect(options.brokenStateEnv ? [] : problems, () => readEnvFile(stateEnvFile, stateEnvFile), options.brokenStateEnv) ?? {};
  const env = mergeEnvFiles(collect(problems, () => readEnvFile(envFile, `modules/${name}/environment`)) ?? {}, stateEnv);
  const found = findConfigFile(dir, 'module', problems, `modules/${name}/`);
  if (!found) {
    if (problems.length === before) problems.push(`modules/${name}: no module.yaml or module.json; create modules/${name}/module.yaml`);
    return undefined;
  }
  const raw = parseConfigFile(found.file, found.display, problems);
  if (raw === undefined) return undefined;
  const resolved = resolveReferences(raw, { ...process.env, ...rootConfig.rootEnv, ...env }, found.display, problems, isShellCommand) as ModuleFile;
  const errors = validateDocument('module', resolved ?? {}, found.display);
  problems.push(...errors);
  if (errors.length > 0 || problems.length > before) return undefined;
  const doc: ModuleFile = resolved ?? {};
  checkModuleSemantics(doc, rootConfig, found.display, problems);
  if (problems.length > before) return undefined;
  const defaults = rootConfig.global.defaults;
  return {
    name,
    dir,
    file: found.file,
    folders: (doc.folders ?? []).map((folder) => path.resolve(folder)),
    exclude: doc.exclude ?? [],
    service: doc.service,
    databases: doc.databases ?? [],
    repositories: doc.repositories ?? Object.keys(rootConfig.global.repositories),
    schedule: doc.schedule ?? defaults.schedule,
    verify: { schedule: doc.verify?.schedule ?? defaults.verify?.schedule },
    retention: doc.retention ?? defaults.retention ?? {},
    timeouts: {
      part: doc.timeouts?.part ?? defaults.timeouts?.part ?? DEFAULT_PART_TIMEOUT,
      killAfter: doc.timeouts?.killAfter ?? defaults.timeouts?.killAfter ?? DEFAULT_KILL_AFTER,
    },
    enabled: doc.enabled ?? true,
    umask: parseInt(doc.umask ?? '022', 8),
    env,
    envFile,
    stateDir: stateLayout(rootConfig.stateDir).moduleState(name),
  };
}

// Checks what a schema cannot say: known repositories, a complete service definition.
function checkModuleSemantics(doc: ModuleFile, rootConfig: RootConfig, display: string, problems: string[]): void {
  const known = Object.keys(rootConfig.global.repositories);
  (doc.repositories ?? []).forEach((repo, index) => {
    if (!known.includes(repo)) {
      const list = known.length ? known.join(', ') : 'none are defined';
      problems.push(`${display}: /repositories/${index} names unknown repository "${repo}"; lifeboat.yaml defines: ${list}`);
    }
  });
  if (doc.schedule !== undefined) {
    const problem = scheduleProblem(doc.schedule);
    if (problem) problems.push(`${display}: /schedule ${problem}`);
  }
  if (doc.verify?.schedule !== undefined) {
    const problem = scheduleProblem(doc.verify.schedule);
    if (problem) problems.push(`${display}: /verify/schedule ${problem}`);
  }
  const service = doc.service;
  if (service) {
    const kinds = [service.systemd && 'systemd', service.container && 'container', (service.stop || service.start || service.isActive) && 'stop/start'].filter(Boolean);
    if (kinds.length === 0) problems.push(`${display}: /service needs one of systemd, container, or stop + start + isActive`);
    if (kinds.length > 1) problems.push(`${display}: /service mixes ${kinds.join(' and ')}; choose one`);
    if (kinds[0] === 'stop/start' && kinds.length === 1) {
      for (const key of ['stop', 'start', 'isActive'] as const) {
        if (!service[key]) problems.push(`${display}: /service/${key} is required with stop/start commands (isActive exits 0 when the service runs)`);
      }
    }
    if (service.engine && !service.container) problems.push(`${display}: /service/engine only applies with /service/container`);
  }
}

// A notify entry has exactly one target; format only applies to webhook, priority only to ntfy.
export function notifyProblems(entry: NotifyConfig, at: string): string[] {
  const kinds = (['webhook', 'ntfy', 'sendmail', 'command'] as const).filter((kind) => entry[kind] !== undefined);
  if (kinds.length === 0) return [`${at} needs one of webhook, ntfy, sendmail, command`];
  if (kinds.length > 1) return [`${at} has ${kinds.join(' and ')}; one target per entry (add another entry for the other)`];
  if (entry.format && kinds[0] !== 'webhook') return [`${at}/format only applies to webhook`];
  if (entry.priority && kinds[0] !== 'ntfy') return [`${at}/priority only applies to ntfy`];
  return [];
}

// Finds NAME.yaml, NAME.yml or NAME.json in a directory; two of them at once is a problem.
function findConfigFile(dir: string, base: string, problems: string[], displayPrefix = ''): { file: string; display: string } | undefined {
  const present = ['yaml', 'yml', 'json'].map((ext) => `${base}.${ext}`).filter((name) => existsSync(path.join(dir, name)));
  if (present.length > 1) {
    problems.push(`${displayPrefix}${present.join(' and ')} both exist; keep one`);
    return undefined;
  }
  if (present.length === 0) return undefined;
  return { file: path.join(dir, present[0]), display: `${displayPrefix}${present[0]}` };
}

// Parses YAML or JSON, turning syntax errors into `file:line[:col]: message` problems (YAML: with the line,
// a caret and the likely cause).
function parseConfigFile(file: string, display: string, problems: string[]): unknown {
  let text: string;
  try {
    // It names commands Lifeboat runs (a service's stop/start, passwordCommand): trusted like a part.
    const unsafe = unsafeReason(statSync(file));
    if (unsafe) {
      problems.push(`${display}: refused: ${unsafe}; it names commands Lifeboat runs (service stop/start, passwordCommand): chmod go-w ${file} and chown it to root or to you`);
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    problems.push(`${display}: cannot be read (${describeError(error)})`);
    return undefined;
  }
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      problems.push(`${display}: invalid JSON: ${describeError(error)}`);
      return undefined;
    }
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    // The first error only: the parser's later ones are usually the same mistake seen again.
    problems.push(describeYamlError(text, doc.errors[0], display));
    return undefined;
  }
  const glued = gluedColon(text, doc);
  if (glued) {
    problems.push(describeYamlError(text, glued, display));
    return undefined;
  }
  // Aliases resolve only now: an undefined anchor (*a) or an alias bomb throws here, not while parsing.
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (error) {
    problems.push(`${display}: invalid YAML: ${describeError(error).split('\n')[0]}`);
    return undefined;
  }
  const loop = selfReference(value);
  if (loop) {
    problems.push(`${display}: ${loop.at} is an alias of ${loop.anchor}, which contains it (a YAML alias inside its own anchor never ends); remove the alias or move it out of the anchored value`);
    return undefined;
  }
  return value === null ? {} : value;
}

// A YAML alias inside its own anchor (`folders: &f [/x, *f]`) makes a value that contains itself: the key
// path of the alias and of the anchor it repeats, or undefined for a tree.
function selfReference(value: unknown, at = '', open = new Map<object, string>()): { at: string; anchor: string } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const seen = open.get(value);
  if (seen !== undefined) return { at: at || '/', anchor: seen || '/' };
  open.set(value, at);
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((item, index) => [String(index), item]) : Object.entries(value);
  for (const [key, item] of entries) {
    const found = selfReference(item, `${at}/${key}`, open);
    if (found) return found;
  }
  open.delete(value);
  return undefined;
}

// Interpolates ${VAR} references; an unset variable without default names its key and file.
function resolveReferences(raw: unknown, env: Record<string, string | undefined>, display: string, problems: string[], keep?: (path: string) => boolean): unknown {
  const missing: Unresolved[] = [];
  const resolved = interpolate(raw, env, missing, '', keep);
  for (const item of missing) {
    problems.push(`${display}: ${item.path} uses \${${item.variable}} but ${item.variable} is not set; set it in the environment file or write \${${item.variable}:-default}`);
  }
  return resolved;
}

// The service's stop/start/isActive run through /bin/sh with the environment files in their environment:
// ${VAR} in them is left to the shell, so a secret never lands in the shell's argv (visible in ps).
function isShellCommand(at: string): boolean {
  return /^\/service\/(stop|start|isActive)$/.test(at);
}

// Lists modules/ entries that are modules; a stray entry (.git/, m.bak/, a file, a folder without
// module.yaml) is skipped with one warning, so it never stops every module.
export function listModules(root: string, warnings: string[]): string[] {
  const dir = path.join(root, 'modules');
  if (!existsSync(dir)) return [];
  const names: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    // An odd name (a space, a newline, bytes that are not UTF-8) is shown escaped and shell-quoted.
    const shown = (suffix: string) => quoteArg(showPath(`modules/${entry}${suffix}`));
    let isDir: boolean;
    try {
      isDir = statSync(path.join(dir, entry)).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      warnings.push(`${shown('')} is not a directory: skipped; a module is a folder modules/<name>/ holding module.yaml (move the file elsewhere to silence this)`);
      continue;
    }
    if (!MODULE_NAME_RE.test(entry)) {
      warnings.push(`${shown('/')} is not a module name (^[a-z0-9][a-z0-9_-]{0,62}$): skipped; rename the folder if it is a module, or move it out of modules/`);
      continue;
    }
    if (!['yaml', 'yml', 'json'].some((ext) => existsSync(path.join(dir, entry, `module.${ext}`)))) {
      warnings.push(`${shown('/')} has no module.yaml: skipped; create ${shown('/module.yaml')} if it is a module, or move it out of modules/`);
      continue;
    }
    names.push(entry);
  }
  return names;
}

// Runs a loader and turns a LifeboatError into collected problems.
function collect<T>(problems: string[], load: () => T, warn?: (message: string) => void): T | undefined {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof LifeboatError)) throw error;
    problems.push(...error.problems);
    for (const problem of error.problems) warn?.(`${problem}; left out: the restore brings the state dir's environment back`);
    return undefined;
  }
}

// Raises every collected problem as one configuration error (exit 2).
function throwProblems(problems: string[]): never {
  throw new LifeboatError('CONFIG_INVALID', problems.join('\n'), { problems });
}

// " (known modules: a, b)" for an unknown-module message.
function suggestModules(names: string[]): string {
  return names.length ? `; known modules: ${names.join(', ')}` : '; no modules are defined yet';
}

// Why a state dir path cannot be a folder: a file stands there or at one of its parents; undefined when it
// is a folder or does not exist yet.
function notADirectory(dir: string): string | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      if (statSync(at).isDirectory()) return undefined;
      return at === dir ? 'it is a file, not a folder' : `${at} is a file, not a folder`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') return undefined;
    }
    if (path.dirname(at) === at) return undefined;
  }
}
