// `lifeboat schedule [--cron|--systemd] [--install] [--dest PATH]`: crontab lines or systemd units from
// each enabled module's cron expression; printed, or written with --install (which says how to enable).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, loadForCommand, type GlobalOptions } from './common.js';
import { PROJECT_DIR } from '../config/paths.js';
import { LifeboatError } from '../errors.js';
import { runSync } from '../process/runner.js';
import { cronDFile, crontabLines, mergeCrontab, writtenForRoot, type ScheduledModule } from '../schedule/crontab.js';
import { SERVICE_TEMPLATE, serviceUnit, timerUnit, type UnitFile } from '../schedule/systemd.js';
import { writeFileAtomic } from '../files/write-atomic.js';

interface ScheduleOptions extends GlobalOptions {
  cron?: boolean;
  systemd?: boolean;
  install?: boolean;
  dest?: string;
}

// Prints or installs the schedule of every enabled module that has one.
export async function scheduleCommand(_args: unknown[], options: ScheduleOptions): Promise<number> {
  if (options.cron && options.systemd) throw new LifeboatError('USAGE', 'give --cron or --systemd, not both');
  const kind = options.cron ? 'cron' : options.systemd ? 'systemd' : existsSync('/run/systemd/system') ? 'systemd' : 'cron';
  // Printing writes nowhere: a --dest there would be ignored, so it is refused (README "Commands").
  if (options.dest !== undefined && !options.install) {
    throw new LifeboatError('USAGE', `--dest ${path.resolve(options.dest)} only says where --install writes; add --install (or leave --dest out to print the ${kind === 'cron' ? 'crontab lines' : 'units'})`);
  }
  const log = createLogger(options);
  const { root, modules, broken } = loadForCommand(options, [], log);
  if (broken.length) throw new LifeboatError('CONFIG_INVALID', `fix the module(s) above before scheduling: ${broken.map((m) => m.name).join(', ')}`);
  const scheduled: ScheduledModule[] = [];
  for (const module of modules) {
    if (module.schedule) scheduled.push({ module: module.name, schedule: module.schedule });
    else log.warn(`module ${module.name} has no schedule (set schedule: in its module.yaml or defaults.schedule in lifeboat.yaml); it is left out`);
    // The restore drill gets its own job beside the backup.
    if (module.verify.schedule) scheduled.push({ module: module.name, schedule: module.verify.schedule, action: 'verify' });
  }
  const command = lifeboatCommand(root.root, root.stateDir);
  if (kind === 'systemd') {
    const units = systemdUnits(scheduled, command, root.root);
    if (!options.install) {
      for (const unit of units) process.stdout.write(`# ${unit.name}\n${unit.text}\n`);
      return 0;
    }
    installSystemd(units, options.dest, root.root);
    return 0;
  }
  if (!options.install) {
    process.stdout.write(crontabLines(scheduled, command).join('\n') + (scheduled.length ? '\n' : ''));
    return 0;
  }
  installCron(scheduled, command, options.dest, root.root);
  return 0;
}

// How cron and systemd start this very Lifeboat: absolute node, absolute launcher, explicit root and state dir.
function lifeboatCommand(root: string, stateDir: string): string[] {
  return [process.execPath, path.join(PROJECT_DIR, 'bin', 'lifeboat'), '--root', root, '--state-dir', stateDir];
}

// The template service plus one timer per module; a schedule systemd cannot express is a config error.
function systemdUnits(modules: ScheduledModule[], command: string[], root: string): UnitFile[] {
  const problems: string[] = [];
  const timers: UnitFile[] = [];
  for (const { module, schedule, action } of modules) {
    try {
      timers.push(timerUnit(module, schedule, action));
    } catch (error) {
      problems.push(`module ${module}: ${(error as Error).message}`);
    }
  }
  if (problems.length) throw new LifeboatError('CONFIG_INVALID', problems.join('\n'), { problems });
  const drills = modules.some((job) => job.action === 'verify') ? [serviceUnit(command, root, 'verify')] : [];
  return [serviceUnit(command, root), ...drills, ...timers];
}

// Writes the units (replacing Lifeboat's old timers) and prints one message: what was written and the
// commands that enable it.
function installSystemd(units: UnitFile[], dest: string | undefined, root: string): void {
  const system = process.getuid?.() === 0;
  const unitDir = system ? '/etc/systemd/system' : path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'systemd', 'user');
  const dir = path.resolve(dest ?? unitDir);
  refuseOtherRoot(path.join(dir, SERVICE_TEMPLATE), readText(path.join(dir, SERVICE_TEMPLATE)), root, 'timers');
  mkdirSync(dir, { recursive: true });
  const wanted = new Set(units.map((unit) => unit.name));
  const stale = readdirSync(dir).filter((name) => /^lifeboat-(backup|verify)@.+\.timer$/.test(name) && !wanted.has(name));
  for (const name of stale) rmSync(path.join(dir, name));
  for (const unit of units) writeFileAtomic(path.join(dir, unit.name), unit.text, 0o644);
  process.stdout.write(systemdInstallMessage({ dir, unitDir, units: units.map((unit) => unit.name), stale, system }));
}

// The message after writing units to `dir`. Only a folder systemd reads (`unitDir`) gets
// `systemctl daemon-reload`; elsewhere (--dest) the units are not loaded, so it says where they belong.
export function systemdInstallMessage(install: { dir: string; unitDir: string; units: string[]; stale: string[]; system: boolean }): string {
  const ctl = install.system ? 'systemctl' : 'systemctl --user';
  const timers = install.units.filter((name) => name.endsWith('.timer'));
  const loaded = path.resolve(install.dir) === path.resolve(install.unitDir);
  const lines = [`Wrote ${install.units.length} unit(s) to ${install.dir}: ${install.units.join(', ')}${install.stale.length ? `; removed ${install.stale.join(', ')}` : ''}.`];
  const commands = [...(loaded ? [`${ctl} daemon-reload`] : []), ...(install.stale.length ? [`${ctl} disable --now ${install.stale.join(' ')}`] : []), ...(timers.length ? [`${ctl} enable --now ${timers.join(' ')}`] : [])];
  if (!loaded) lines.push(`systemd does not read ${install.dir} (its folder is ${install.unitDir}), so nothing is enabled yet; once the units are there:`);
  else lines.push('To enable them, run:');
  lines.push(...commands.map((command) => `  ${command}`));
  if (loaded && timers.length) lines.push(`Then \`${ctl} list-timers 'lifeboat-*'\` shows the next runs.`);
  return `${lines.join('\n')}\n`;
}

// Root: /etc/cron.d/lifeboat (or --dest). Others: Lifeboat's block in the user's crontab (or the file --dest).
// --dest naming an existing folder writes `lifeboat` inside it.
function installCron(modules: ScheduledModule[], command: string[], dest: string | undefined, root: string): void {
  if (process.getuid?.() === 0 || dest) {
    const given = path.resolve(dest ?? '/etc/cron.d/lifeboat');
    const file = isDirectory(given) ? path.join(given, 'lifeboat') : given;
    refuseOtherRoot(file, readText(file), root, 'jobs');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, cronDFile(modules, command, root), 0o644);
    process.stdout.write(cronInstallMessage(file, modules.length));
    return;
  }
  // No crontab yet (crontab -l fails): an empty one.
  const listed = runSync('crontab', { args: ['-l'], stdio: ['ignore', 'pipe', 'ignore'] });
  const existing = listed.code === 0 ? listed.stdout : '';
  refuseOtherRoot('your crontab', existing, root, 'jobs');
  const installed = runSync('crontab', { args: ['-'], input: mergeCrontab(existing, modules, command, root), stdio: ['pipe', 'pipe', 'inherit'] });
  if (installed.error) throw installed.error;
  if (installed.code !== 0) throw new Error(`Command failed: crontab - (${installed.signal ?? `exit ${installed.code}`})`);
  process.stdout.write(`Installed ${modules.length} job(s) in your crontab (\`crontab -l\` shows them); cron picks them up by itself.\n`);
}

// The message after writing a cron.d file: cron reads it by itself only inside /etc/cron.d.
export function cronInstallMessage(file: string, jobs: number): string {
  if (path.dirname(file) === '/etc/cron.d') return `Wrote ${jobs} job(s) to ${file}; cron reads /etc/cron.d by itself (no reload needed). \`lifeboat status\` shows the next runs.\n`;
  return `Wrote ${jobs} job(s) to ${file}; cron does not read it there: copy it into /etc/cron.d (a name without dots) to run the jobs.\n`;
}

// One root's install never replaces another's: the files name the root they were written for, and an
// install from a different root refuses (nothing written) and says how to keep both.
function refuseOtherRoot(where: string, text: string, root: string, what: string): void {
  const other = writtenForRoot(text);
  if (other === undefined || other === root) return;
  throw new LifeboatError('USAGE', `${where} holds the scheduled ${what} of the root ${other}, not of this root (${root}); installing would replace them, so nothing was written`, {
    hint: 'schedule every module from one root, or install this root\'s jobs beside the other\'s: `schedule --cron --install --dest /etc/cron.d/lifeboat-NAME` (cron reads every file there)',
  });
}

// A file's text, or '' when there is none.
function readText(file: string): string {
  try {
    return isDirectory(file) ? '' : readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}
