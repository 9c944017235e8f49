// `lifeboat schedule [--cron|--systemd] [--install] [--dest PATH]`: crontab lines or systemd units from
// each enabled module's cron expression; printed, or written with --install (which says how to enable).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, loadForCommand, type GlobalOptions } from './common.js';
import { PROJECT_DIR } from '../config/paths.js';
import { LifeboatError } from '../errors.js';
import { cronDFile, crontabLines, mergeCrontab, type ScheduledModule } from '../schedule/crontab.js';
import { serviceUnit, timerUnit, type UnitFile } from '../schedule/systemd.js';
import type { Logger } from '../log/logger.js';
import { writeFileAtomic } from '../report/write-atomic.js';

interface ScheduleOptions extends GlobalOptions {
  cron?: boolean;
  systemd?: boolean;
  install?: boolean;
  dest?: string;
}

// Prints or installs the schedule of every enabled module that has one.
export async function scheduleCommand(_args: unknown[], options: ScheduleOptions): Promise<number> {
  if (options.cron && options.systemd) throw new LifeboatError('USAGE', 'give --cron or --systemd, not both');
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
  const kind = options.cron ? 'cron' : options.systemd ? 'systemd' : existsSync('/run/systemd/system') ? 'systemd' : 'cron';
  if (kind === 'systemd') {
    const units = systemdUnits(scheduled, command);
    if (!options.install) {
      for (const unit of units) process.stdout.write(`# ${unit.name}\n${unit.text}\n`);
      return 0;
    }
    installSystemd(units, options.dest, log);
    return 0;
  }
  if (!options.install) {
    process.stdout.write(crontabLines(scheduled, command).join('\n') + (scheduled.length ? '\n' : ''));
    return 0;
  }
  installCron(scheduled, command, options.dest, log);
  return 0;
}

// How cron and systemd start this very Lifeboat: absolute node, absolute launcher, explicit root and state dir.
function lifeboatCommand(root: string, stateDir: string): string[] {
  return [process.execPath, path.join(PROJECT_DIR, 'bin', 'lifeboat'), '--root', root, '--state-dir', stateDir];
}

// The template service plus one timer per module; a schedule systemd cannot express is a config error.
function systemdUnits(modules: ScheduledModule[], command: string[]): UnitFile[] {
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
  const drills = modules.some((job) => job.action === 'verify') ? [serviceUnit(command, 'verify')] : [];
  return [serviceUnit(command), ...drills, ...timers];
}

// Writes the units (replacing Lifeboat's old timers) and prints the commands that enable them.
function installSystemd(units: UnitFile[], dest: string | undefined, log: Logger): void {
  const system = process.getuid?.() === 0;
  const dir = dest ?? (system ? '/etc/systemd/system' : path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'systemd', 'user'));
  mkdirSync(dir, { recursive: true });
  const wanted = new Set(units.map((unit) => unit.name));
  const stale = readdirSync(dir).filter((name) => /^lifeboat-(backup|verify)@.+\.timer$/.test(name) && !wanted.has(name));
  for (const name of stale) rmSync(path.join(dir, name));
  for (const unit of units) writeFileAtomic(path.join(dir, unit.name), unit.text, 0o644);
  const ctl = system ? 'systemctl' : 'systemctl --user';
  const timers = units.filter((unit) => unit.name.endsWith('.timer')).map((unit) => unit.name);
  log.info(`wrote ${units.length} unit(s) to ${dir}`);
  const lines = [`${ctl} daemon-reload`];
  if (stale.length) lines.push(`${ctl} disable --now ${stale.join(' ')}`);
  if (timers.length) lines.push(`${ctl} enable --now ${timers.join(' ')}`);
  process.stdout.write(`Wrote ${units.map((u) => path.join(dir, u.name)).join(', ')}\nTo enable them, run:\n${lines.map((l) => `  ${l}`).join('\n')}\n${timers.length ? `Then \`${ctl} list-timers 'lifeboat-*'\` shows the next runs.\n` : ''}`);
}

// Root: /etc/cron.d/lifeboat (or --dest). Others: Lifeboat's block in the user's crontab (or the file --dest).
function installCron(modules: ScheduledModule[], command: string[], dest: string | undefined, log: Logger): void {
  if (process.getuid?.() === 0 || dest) {
    const file = dest ?? '/etc/cron.d/lifeboat';
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, cronDFile(modules, command), 0o644);
    log.info(`wrote ${modules.length} job(s) to ${file}`);
    process.stdout.write(`Wrote ${file}; cron reads /etc/cron.d by itself (no reload needed). \`lifeboat status\` shows the next runs.\n`);
    return;
  }
  let existing = '';
  try {
    existing = execFileSync('crontab', ['-l'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    // no crontab yet
  }
  execFileSync('crontab', ['-'], { input: mergeCrontab(existing, modules, command) });
  process.stdout.write(`Installed ${modules.length} job(s) in your crontab (\`crontab -l\` shows them); cron picks them up by itself.\n`);
}
