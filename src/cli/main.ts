// The command line: commander defines the commands; each command's code is loaded only when it runs.
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { PROJECT_DIR } from '../config/paths.js';
import { printJson, reportError, type GlobalOptions } from './common.js';
import { LifeboatError } from '../errors.js';
import { maskKnownSecrets } from '../log/mask.js';

type Handler = (args: unknown[], options: GlobalOptions & Record<string, unknown>, program: Command) => Promise<number>;

// Builds the program; `load` imports a command module only when that command runs.
export function buildProgram(setExit: (code: number) => void = () => {}): Command {
  const version = JSON.parse(readFileSync(`${PROJECT_DIR}/package.json`, 'utf8')).version as string;
  const program = new Command('lifeboat')
    .description('Module-aware backup and restore: hook directories, restic/borg/tar providers, services and databases')
    .version(version, '-V, --version')
    .option('--root <dir>', 'config root (default: $LIFEBOAT_ROOT, /etc/lifeboat as root, else ~/.config/lifeboat)')
    .option('--state-dir <dir>', 'state dir (default: $LIFEBOAT_STATE_DIR, /var/lib/lifeboat as root, else ~/.local/state/lifeboat)')
    .option('-v, --verbose', 'show debug lines and every command run')
    .option('-q, --quiet', 'only errors')
    .enablePositionalOptions(false)
    .showHelpAfterError('(run `lifeboat --help` for usage)')
    .exitOverride();

  // Each command module is named in a literal import() so a bundler can split it into its own chunk.
  const load = (importModule: () => Promise<object>, exportName: string): ((...args: unknown[]) => Promise<void>) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const options = { ...program.opts(), ...command.opts() } as GlobalOptions & Record<string, unknown>;
      const mod = (await importModule()) as Record<string, Handler>;
      setExit(await mod[exportName](args.slice(0, -2), options, program));
    };
  const repoOption = () => new Option('--repo <name>', 'only this repository (repeatable)').argParser(collect);

  program.command('init').description('create a working root: a local repository and an example module').option('--force', 'write into a non-empty root').option('--example', 'add every key, commented, to lifeboat.yaml and module.yaml').action(load(() => import('./init.js'), 'initCommand'));
  program
    .command('backup')
    .description('back up modules (all enabled ones when none are named)')
    .argument('[module...]')
    .addOption(repoOption())
    .option('--dry-run', 'print the plan and every command, run none')
    .option('--parallel <n>', 'modules at once', '1')
    .option('--wait <seconds>', 'wait this long for a module that is locked')
    .option('--no-retention', "do not apply the module's retention after the backup")
    .option('--new-repository', 'accept a repository that lists no snapshot although earlier backups went there (start it anew)')
    .option('--json', 'one JSON document on stdout')
    .action(load(() => import('./backup.js'), 'backupCommand'));
  program
    .command('restore')
    .description('restore a module from a snapshot (latest by default)')
    .argument('<module>')
    .argument('[snapshot]', 'id, unique prefix or latest', 'latest')
    .addOption(repoOption())
    .option('--target <dir>', 'restore under DIR instead of in place (no service is stopped)')
    .option('--no-safety-snapshot', 'do not snapshot the current state before an in-place restore')
    .option('--databases', 'with --target: load the dumps into the live databases too')
    .option('--dry-run', 'print the plan and every command, run none')
    .option('--wait <seconds>', 'wait this long for a module that is locked')
    .option('--json', 'one JSON document on stdout')
    .action(load(() => import('./restore.js'), 'restoreCommand'));
  program
    .command('snapshots')
    .description('list snapshots, newest last')
    .argument('[module]')
    .addOption(repoOption())
    .option('--host <name>', 'only snapshots made by this host')
    .option('--json', 'a JSON array of {id, time, module, repository, host}')
    .action(load(() => import('./snapshots.js'), 'snapshotsCommand'));
  program
    .command('forget')
    .description("apply each module's retention to its repositories")
    .argument('[module...]')
    .addOption(repoOption())
    .option('--dry-run', 'show what would be removed')
    .option('--prune', "free the forgotten snapshots' space now (restic prune, borg compact), whatever prune.every says")
    .option('--json', 'one JSON document on stdout')
    .action(load(() => import('./forget.js'), 'forgetCommand'));
  program
    .command('plan')
    .description('list every part of every phase in run order, with its layer')
    .argument('<module>')
    .argument('[action]', 'backup, restore or verify (default: all three)')
    .option('--json', 'one JSON document on stdout')
    .action(load(() => import('./plan.js'), 'planCommand'));
  program.command('check').description('validate the configuration, needed binaries and permissions').option('--json', 'one JSON document on stdout').action(load(() => import('./check.js'), 'checkCommand'));
  program
    .command('service')
    .description("helper for parts: stop, start or query a module's service")
    .argument('<operation>', 'stop, start or is-active')
    .argument('<module>')
    .action(load(() => import('./service.js'), 'serviceCommand'));
  program
    .command('verify')
    .description('restore drill: restore the latest snapshot aside, compare with its manifest, check dumps and the repository')
    .argument('[module...]')
    .addOption(repoOption())
    .option('--wait <seconds>', 'wait this long for a module that is locked')
    .option('--json', 'one JSON document on stdout')
    .action(load(() => import('./verify.js'), 'verifyCommand'));
  program
    .command('status')
    .description('last success, failure, age, size, duration and next run of every module')
    .option('--json', 'one JSON document on stdout')
    .option('--prometheus <file>', 'write a node_exporter textfile (lifeboat_* metrics) instead of the table')
    .action(load(() => import('./status.js'), 'statusCommand'));
  program
    .command('schedule')
    .description("crontab lines or systemd units from each module's schedule")
    .option('--cron', 'crontab lines')
    .option('--systemd', 'a service and one timer per module')
    .option('--install', 'write them (/etc/cron.d/lifeboat or /etc/systemd/system as root) and say how to enable them')
    .option('--dest <path>', 'with --install: the cron file or unit folder to write instead')
    .action(load(() => import('./schedule.js'), 'scheduleCommand'));
  program
    .command('report')
    .description('one self-contained HTML page with the history of every module')
    .requiredOption('--html <file>', 'where to write the page')
    .option('--days <n>', 'how much history', '90')
    .action(load(() => import('./report.js'), 'reportCommand'));
  program
    .command('completion')
    .description('shell completion script: eval "$(lifeboat completion bash)"')
    .argument('<shell>', 'bash or zsh')
    .argument('[module]', 'for the scripts themselves: `completion snapshots MODULE` lists its snapshot ids')
    .action(load(() => import('./completion.js'), 'completionCommand'));
  const engineOptions = (command: Command, io: 'output' | 'input') =>
    command
      .option('--database <name>', 'postgres, mysql: the database (all: every database)')
      .option('--host <host>', 'postgres, mysql: server host')
      .option('--port <port>', 'postgres, mysql: server port')
      .option('--user <user>', 'postgres, mysql: user name')
      .option('--password-file <file>', 'a file holding the password (never give it in argv)')
      .option('--password-env <var>', 'the variable holding the password')
      .option('--url <url>', 'redis: redis://host:port/db (default $REDIS_URL, redis://127.0.0.1:6379/0)')
      .addOption(new Option('--keys <pattern>', 'redis: only keys matching (repeatable; default: the whole database)').argParser(collect))
      .option('--path <file>', 'sqlite: the database file')
      .option('--name <name>', 'the <name> of the dump file (databases/<engine>-<name>.<ext>)')
      .addOption(new Option('--option <arg>', 'an extra argument for the client tool (repeatable)').argParser(collect))
      .option(io === 'output' ? '--output <path>' : '--input <path>', io === 'output' ? 'write to FILE (a module or --database all: a DIR) instead of stdout' : 'read FILE (a module: a DIR) instead of stdin');
  engineOptions(
    program.command('dump').description('helper for parts: dump a database to stdout (postgres|mysql|redis|sqlite), or a module\'s databases').argument('<what>', 'postgres, mysql, redis, sqlite, or a module name'),
    'output',
  ).action(load(() => import('./dump.js'), 'dumpCommand'));
  engineOptions(
    program.command('load').description('helper for parts: load a dump from stdin (postgres|mysql|redis|sqlite), or a module\'s dumps').argument('<what>', 'postgres, mysql, redis, sqlite, or a module name'),
    'input',
  ).action(load(() => import('./load.js'), 'loadCommand'));
  const redisOptions = (command: Command) =>
    command
      .option('--url <url>', 'redis://host:port/db (default $REDIS_URL, redis://127.0.0.1:6379/0)')
      .option('--password-file <file>', 'a file holding the password')
      .option('--password-env <var>', 'the variable holding the password (default REDISCLI_AUTH when set)');
  redisOptions(program.command('redis-dump').description("helper for parts: a key's raw DUMP payload on stdout (NethServer-compatible)").argument('<key>')).action(load(() => import('./redis.js'), 'redisDumpCommand'));
  redisOptions(program.command('redis-restore').description('helper for parts: RESTORE a key from a raw DUMP payload on stdin (REPLACE)').argument('<key>').argument('[ttl]', 'expire the key after TTL milliseconds (NethServer: positional; 0: never)'))
    .option('--ttl <ms>', 'expire the key after MS milliseconds (default: never)')
    .action(load(() => import('./redis.js'), 'redisRestoreCommand'));
  // The process a streamed Redis dump runs as (src/engines/redis-process.ts); not for people.
  program.command('internal-dump-redis', { hidden: true }).action(load(() => import('./redis.js'), 'internalDumpRedisCommand'));
  program
    .command('s3')
    .description('helper for parts: ls, put or get S3 objects (credentials from AWS_* or --repo\'s env)')
    .argument('<operation>', 'ls [LOCATION], put FILE|- LOCATION, get LOCATION FILE|-')
    .argument('[args...]')
    .option('--repo <name>', "use this repository's S3 settings; a LOCATION without s3:// is under its prefix")
    .option('--endpoint <url>', 'S3-compatible service (default $AWS_ENDPOINT_URL)')
    .option('--region <region>', 'region (default $AWS_REGION, us-east-1)')
    .option('--cacert <file>', 'trust this CA (PEM) for TLS (default $AWS_CA_BUNDLE)')
    .option('--part-size <bytes>', 'put: bytes per multipart part (default 8 MiB)')
    .option('--queue-size <n>', 'put: parts sent at once (default 3)')
    .option('--recursive', 'ls: every object below the location, not one level')
    .option('--uploads', 'ls: pending multipart uploads instead of objects')
    .option('--json', 'one JSON document on stdout')
    .action(load(() => import('./s3.js'), 's3Command'));
  program.command('run-parts').description('Debian run-parts drop-in (see `lifeboat run-parts --help`)').allowUnknownOption().helpOption(false).argument('[args...]');
  return program;
}

// Appends repeated option values.
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

// Entry point: parses argv, runs the command, maps errors to exit codes (2 usage, 1 failure, 3 locked).
export async function main(argv: string[]): Promise<void> {
  keepRunningWithoutReader();
  const stdoutUsed = watchStdout();
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      exitCode = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help' ? 0 : 2;
      if (exitCode !== 0 && wantsJson(argv) && !stdoutUsed()) printJson({ ok: false, error: error.message.replace(/^error: /, ''), code: 'USAGE', exitCode });
    } else {
      exitCode = reportError(error);
      // A command that failed before it printed its document (a configuration error, a held lock, a bug):
      // --json still gets one JSON document on stdout (README "Commands").
      if (wantsJson(argv) && !stdoutUsed()) printJson(failureDocument(error, exitCode));
    }
  }
  process.exitCode = exitCode;
}

// --json among the options (an argument after `--` is not an option).
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

// The JSON document of a command that failed before it printed its own: the error as reportError shows
// it (each problem, the hint) with its code and the exit status.
function failureDocument(error: unknown, exitCode: number): Record<string, unknown> {
  const mask = maskKnownSecrets;
  if (!(error instanceof LifeboatError)) return { ok: false, error: mask(`internal error (please report it): ${error instanceof Error ? error.message : String(error)}`), exitCode };
  return {
    ok: false,
    error: mask(error.message),
    ...(error.problems.length > 1 ? { problems: error.problems.map(mask) } : {}),
    ...(error.hint ? { hint: mask(error.hint) } : {}),
    code: error.code,
    exitCode,
  };
}

// Tells whether anything was written on stdout (a document or a line) since it was called.
function watchStdout(): () => boolean {
  let used = false;
  const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
  process.stdout.write = ((...args: unknown[]) => {
    used = true;
    return write(...args);
  }) as typeof process.stdout.write;
  return () => used;
}

// A reader that went away (`lifeboat backup | head -1`, a closed terminal) must not kill a run that has a
// service stopped: output to a closed pipe is dropped (as run-parts does) and the run goes on to its
// finally phase. Node ignores SIGPIPE; the EPIPE it gets instead would be an uncaught 'error' event.
function keepRunningWithoutReader(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
      stream.write = (() => true) as typeof stream.write;
    });
  }
}

export { LifeboatError };
