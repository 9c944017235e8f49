// What every command shares: global options, the logger, printing results and errors.
import { escapeControl } from '../log/control.js';
import { maskKnownSecrets } from '../log/mask.js';

export { escapeControl };
import { Logger } from '../log/logger.js';
import { enableProgress } from '../log/progress.js';
import { describeIgnoredKey, ignoredEnvKeys } from '../config/env-file.js';
import { loadModules, loadRoot, type BrokenModule, type LoadOptions } from '../config/load.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { notifyUnstarted } from '../notify/unstarted.js';

export interface GlobalOptions {
  root?: string;
  stateDir?: string;
  verbose?: boolean;
  quiet?: boolean;
  json?: boolean;
}

// The process logger: -v shows debug lines, -q only errors; on a terminal, progress bars below the lines.
export function createLogger(options: GlobalOptions): Logger {
  return new Logger({ level: options.verbose ? 'debug' : options.quiet ? 'error' : 'info', sink: enableProgress(options) });
}

// Loads the root and the named modules (all when none, only enabled ones unless named). With no names, a
// module whose files are invalid is logged and returned in `broken`; the others still load.
export function loadForCommand(options: GlobalOptions, names: string[] = [], log?: Logger, load: LoadOptions = {}): { root: RootConfig; modules: ModuleConfig[]; broken: BrokenModule[] } {
  const root = loadRoot(options);
  for (const warning of root.warnings ?? []) log?.warn(warning);
  const broken: BrokenModule[] = [];
  const modules = loadModules(root, names, broken, load);
  for (const module of broken) for (const problem of module.problems) log?.error(`module ${module.name} cannot run: ${problem}`);
  // Values of the environment files are secrets for every command, not only inside runs.
  log?.masker.addEnv(root.rootEnv, ...modules.map((module) => module.env));
  for (const key of ignoredEnvKeys(root.rootEnv)) log?.warn(describeIgnoredKey('environment', key));
  for (const module of modules) for (const key of ignoredEnvKeys(module.env)) log?.warn(describeIgnoredKey(`modules/${module.name}/environment`, key));
  if (names.length > 0) return { root, modules, broken };
  const enabled = modules.filter((m) => m.enabled);
  for (const m of modules) if (!m.enabled) log?.warn(`module ${m.name} is disabled (enabled: false); skipped`);
  return { root, modules: enabled, broken };
}

// loadForCommand for a run that pings: a configuration error (exit 2) still sends the failure ping.
export async function loadOrPing(options: GlobalOptions, names: string[], action: string, log: Logger, dryRun: boolean): Promise<ReturnType<typeof loadForCommand>> {
  return pingIfRefused(options, names, action, log, dryRun, () => loadForCommand(options, names, log));
}

// Runs a step before the modules start (loading, opening providers, checking parts); when it refuses the
// run (exit 2), the scheduled run's failure ping still goes out, naming what refused it.
export async function pingIfRefused<T>(options: GlobalOptions, names: string[], action: string, log: Logger, dryRun: boolean, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (!dryRun && error instanceof LifeboatError && error.exitCode === 2) await notifyUnstarted(options, action, names, error.problems.join('; '), log);
    throw error;
  }
}

// Prints one JSON document on stdout (and nothing else goes there). JSON escapes C0 controls itself;
// DEL and the C1 range (0x80-0x9f, which some terminals obey) are written as \u escapes too.
export function printJson(value: unknown): void {
  const text = JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  process.stdout.write(`${text}\n`);
}

// Prints a known error without a stack: each problem on its own line, then the hint; returns its exit code.
export function reportError(error: unknown, log?: Logger): number {
  // Without the command's logger (an error that reached main): every secret this process was given.
  const mask = (text: string) => escapeControl(log ? log.masker.mask(text) : maskKnownSecrets(text));
  if (error instanceof LifeboatError) {
    for (const problem of error.problems) process.stderr.write(`lifeboat: ${mask(problem)}\n`);
    if (error.hint) process.stderr.write(`lifeboat: hint: ${mask(error.hint)}\n`);
    return error.exitCode;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`lifeboat: internal error (please report it): ${mask(text)}\n`);
  return 1;
}

// Parses a positive integer option value or fails with a usage error naming the option.
export function parseCount(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new LifeboatError('USAGE', `${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return value;
}

// Aligns rows of text into columns (two spaces apart), header first; control characters shown escaped.
export function renderTable(header: string[], rawRows: string[][]): string {
  const rows = rawRows.map((row) => row.map((cell) => escapeControl(cell ?? '')));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // A last cell of several lines (a YAML error's line and caret) continues under its own column.
  const lastColumn = ' '.repeat(widths.slice(0, -1).reduce((sum, width) => sum + width + 2, 0));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c.replace(/\n/g, `\n${lastColumn}`) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
