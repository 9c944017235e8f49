// Configuration a backup would only trip over once its parts ran (after the service was stopped): a
// built-in provider's tool that is not installed (restic, borg, zstd), a restic or borg repository without
// a password, a passwordFile that cannot be read, an exclude pattern
// the provider cannot honour, an exclude pattern that matches a database dump, two databases that would
// write one dump file. `backup` checks these before
// anything runs and refuses with exit 2, each problem naming the file, the key and the fix.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RepositoryConfig, RootConfig } from '../config/types.js';
import { assertDistinctDumps, DUMP_DIR, loadJobs } from '../engines/index.js';
import { describeError, LifeboatError } from '../errors.js';
import { EXTENSIONS } from '../engines/names.js';
import { compileExcludes } from '../files/exclude.js';
import { builtinProvider, pluginDirs } from '../providers/registry.js';
import { which } from '../process/which.js';
import { toolEnvironment, toolPath } from '../process/tool-env.js';

// The variables each built-in provider also takes its password from (README "Repositories").
const PASSWORD_ENV: Record<string, { what: string; env: string[] }> = {
  restic: { what: 'password', env: ['RESTIC_PASSWORD', 'RESTIC_PASSWORD_FILE', 'RESTIC_PASSWORD_COMMAND'] },
  borg: { what: 'passphrase', env: ['BORG_PASSPHRASE', 'BORG_PASSCOMMAND'] },
};

// Built-in providers that refuse negated (`!pattern`) excludes.
const NO_NEGATION = ['borg', 'tar'];

// Every such problem of these modules in the repositories they back up into; throws CONFIG_INVALID.
export function assertBackupConfig(root: RootConfig, modules: Array<{ module: ModuleConfig; repositories: string[] }>): void {
  const problems = new Set<string>();
  const configFile = path.basename(root.file ?? 'lifeboat.yaml');
  const used = new Set(modules.flatMap((m) => m.repositories));
  for (const name of used) {
    const config = root.global.repositories[name];
    if (!config || !builtin(config.provider, root)) continue;
    for (const problem of [...toolProblems(name, config, configFile), ...passwordProblems(name, config, configFile, root.root)]) problems.add(problem);
  }
  for (const { module, repositories } of modules) for (const problem of moduleProblems(root, module, repositories)) problems.add(problem);
  if (problems.size > 0) throw new LifeboatError('CONFIG_INVALID', [...problems].join('\n'), { problems: [...problems] });
}

// A built-in provider's tool these repositories need that is not installed (restic, borg, zstd): `restore`
// asks before it lists snapshots or stops a service; throws CONFIG_INVALID.
export function assertRepositoryTools(root: RootConfig, repositories: string[]): void {
  const configFile = path.basename(root.file ?? 'lifeboat.yaml');
  const problems = repositories.flatMap((name) => {
    const config = root.global.repositories[name];
    return config && builtin(config.provider, root) ? toolProblems(name, config, configFile) : [];
  });
  if (problems.length > 0) throw new LifeboatError('CONFIG_INVALID', problems.join('\n'), { problems });
}

// A module's excludes its repositories' providers cannot honour, and dump files two databases share
// (`check` lists these too; a missing password it finds by opening the repository).
export function moduleProblems(root: RootConfig, module: ModuleConfig, repositories: string[]): string[] {
  const problems: string[] = [];
  const display = path.relative(root.root, module.file);
  const refusing = [...new Set(repositories.map((name) => root.global.repositories[name]?.provider).filter((kind) => NO_NEGATION.includes(kind ?? '') && builtin(kind!, root)))];
  module.exclude.forEach((pattern, index) => {
    if (pattern.startsWith('!') && refusing.length > 0) {
      problems.push(`${display}: /exclude/${index} "${pattern}": negated patterns are not supported by the ${refusing.join(' and ')} provider; list the paths to exclude instead`);
    }
  });
  try {
    assertDistinctDumps(module.databases);
  } catch (error) {
    const hint = error instanceof LifeboatError && error.hint ? `; ${error.hint}` : '';
    problems.push(`${display}: /databases: ${describeError(error)}${hint}`);
    return problems;
  }
  problems.push(...excludedDumpProblems(root, module, display));
  return problems;
}

// Exclude patterns (module.yaml's `exclude:` and etc/state-exclude.conf) that match a database dump: the
// dump would silently be missing from the snapshot. The dump files come from the settings alone (a
// `database: all` entry as its folder, its globals.sql and the postgres database's archive).
function excludedDumpProblems(root: RootConfig, module: ModuleConfig, display: string): string[] {
  if (module.databases.length === 0) return [];
  const dir = path.join(module.stateDir, DUMP_DIR);
  const dumps = loadJobs(module.databases).flatMap((job) => {
    const file = path.join(dir, job.file);
    return job.engine === 'postgres' && !job.file.endsWith(EXTENSIONS.postgres) ? [file, path.join(file, 'globals.sql'), path.join(file, 'postgres.pgdump')] : [file];
  });
  const fix = `remove or narrow the pattern so that ${DUMP_DIR}/ in the state dir stays in the snapshot (Lifeboat removes the dumps after the snapshot itself)`;
  const problems: string[] = [];
  const matched = (pattern: string) => (pattern.startsWith('!') || pattern.trim() === '' ? undefined : dumps.find(compileExcludes([pattern])));
  module.exclude.forEach((pattern, index) => {
    const dump = matched(pattern);
    if (dump) problems.push(`${display}: /exclude/${index} "${pattern}" matches the database dump ${dump}; ${fix}`);
  });
  const stateExclude = path.join(module.dir, 'etc', 'state-exclude.conf');
  for (const { pattern, line } of listFileLines(stateExclude)) {
    const dump = matched(pattern);
    if (dump) problems.push(`${path.relative(root.root, stateExclude)}:${line}: "${pattern}" matches the database dump ${dump}; ${fix}`);
  }
  return problems;
}

// The patterns of a list file as the snapshot reads them (src/lifecycle/module-paths.ts: trimmed, without
// comments and blank lines), with their line numbers; a missing file has none.
function listFileLines(file: string): Array<{ pattern: string; line: number }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, index) => ({ pattern: text.trim(), line: index + 1 }))
    .filter(({ pattern }) => pattern !== '' && !pattern.startsWith('#'));
}

// Whether a provider kind is a built-in one (a root's plugins/<kind>/ replaces it, with its own rules).
function builtin(kind: string, root: RootConfig): boolean {
  return pluginDirs(kind, root).find((candidate) => existsSync(candidate.dir))?.trusted === true;
}

// The tools a built-in provider runs (its declaration's), each on PATH: restic, borg, zstd for tar.
function toolProblems(name: string, config: RepositoryConfig, configFile: string): string[] {
  const tools = builtinProvider(config.provider)?.tools(config) ?? [];
  return tools
    .filter(({ tool }) => !which(tool, toolPath()))
    .map(({ tool, package: pkg }) => `${configFile}: /repositories/${name}: ${tool} is not installed (not found on PATH), and the ${config.provider} repository needs it; install it (Debian: apt-get install ${pkg ?? tool})`);
}

// restic and borg need a password: a passwordFile that can be read, a passwordCommand, or the variable.
function passwordProblems(name: string, config: RepositoryConfig, configFile: string, configRoot: string): string[] {
  const needs = PASSWORD_ENV[config.provider];
  if (!needs) return [];
  const at = `${configFile}: /repositories/${name}`;
  if (config.passwordFile) {
    const file = path.resolve(configRoot, config.passwordFile);
    const reason = unreadable(file);
    if (!reason) return [];
    return [`${at}/passwordFile: ${file} ${reason}; create it (\`openssl rand -base64 32 > ${file} && chmod 600 ${file}\`) or point passwordFile: at the file that holds the ${needs.what}`];
  }
  if (config.passwordCommand) return [];
  const env = { ...toolEnvironment(), ...config.env };
  if (needs.env.some((key) => env[key])) return [];
  return [`${at}: the ${config.provider} repository has no ${needs.what}; set passwordFile: (a file holding it, mode 600) or passwordCommand:, or ${needs.env[0]} under env:`];
}

// Why a password file cannot be read (undefined when it can): missing, not a file, or no read access.
function unreadable(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return 'is not a regular file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? describeError(error)})`;
  }
}
