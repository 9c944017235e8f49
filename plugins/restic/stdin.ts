// Streamed database dumps for the restic provider. restic 0.14 reads one stream per snapshot
// (backup --stdin --stdin-filename), so each dump becomes a snapshot of its own, tagged
//   lifeboat-dump, run:<run id>          (no module:<name> tag, so list and forget never see it)
// and stored under the dump's absolute path in the module's state dir. The module's snapshot made after
// them carries the same run:<run id> tag; restore finds the dumps through it and restores them like files.
// restic gets the dump on stdin, which stays open until the dump process has exited: on success it is
// closed and restic saves the snapshot; on failure restic is killed first, so it saves nothing. The dump
// is copied into it; unless LIFEBOAT_DUMP_DIRECT=0, a dump tool (pg_dump, mariadb-dump, Lifeboat's own Redis
// dump process) gets restic's stdin as its stdout instead, so the bytes never pass through this process.
import { LifeboatError } from '../../src/errors.js';
import { lastLines } from '../../src/process/exec.js';
import { abortReason, start, tail } from '../../src/process/runner.js';
import { directDumps, feed } from '../../src/engines/pump.js';
import type { Logger } from '../../src/log/logger.js';
import type { StreamSource } from '../../src/providers/types.js';

export const DUMP_TAG = 'lifeboat-dump';

// The tag that ties a module's snapshot to its streamed dumps.
export function runTag(runId: string): string {
  return `run:${runId.replace(/,/g, '_')}`;
}

export interface StdinBackup {
  env: Record<string, string>;
  // Everything after `restic` but the stdin flags: backup --json --host H --tag ... [--cacert ...].
  args: string[];
  source: StreamSource;
  log: Logger;
  signal?: AbortSignal;
  // Says where, for messages: `restic repository "local" of module app`.
  where: string;
}

// Backs up one stream as its own snapshot; returns restic's (short) snapshot id and the bytes added.
export async function backupFromStdin(options: StdinBackup): Promise<{ id: string; bytes?: number }> {
  const { source, log } = options;
  const args = [...options.args, '--stdin', '--stdin-filename', source.path];
  log.debug(`running restic ${args.join(' ')} (stdin: ${source.label})`);
  // No time limit and no abort signal of its own: it is stopped with SIGTERM alone, as below.
  const proc = start('restic', { args, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const child = proc.child;
  const stdin = child.stdin!;
  // The last 64 KiB of each: restic's summary line ends stdout, its complaint ends stderr.
  const stdoutTail = tail(child.stdout!, 65536);
  const stderrTail = tail(child.stderr!, 65536);
  const exited = proc.closed;
  // restic ended without its snapshot: the error says how (a signal, or its exit code) and what it said last.
  const resticFailed = (status: { code: number | null; signal: NodeJS.Signals | null }) =>
    new LifeboatError('PROVIDER', log.masker.mask(`${options.where}: restic backup --stdin of ${source.label} ${status.code === null && status.signal ? `was killed by ${status.signal}` : `failed (exit ${status.code})`}: ${lastLines(stderrTail.text(), 4)}`));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) proc.signal('SIGTERM');
  };
  const onAbort = () => kill();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // Unless LIFEBOAT_DUMP_DIRECT=0, a dump tool writes straight into restic's stdin (no hop through Lifeboat);
  // this process keeps its own end open until the tool has exited, so restic sees the end of the stream
  // only after a complete dump.
  const run = source.open(directDumps() ? stdin : undefined);
  let resticExited = false;
  // restic dying early (bad password, full disk) stops the dump instead of letting it block.
  void exited.then(() => {
    resticExited = true;
    run.abort('restic exited');
  });
  try {
    try {
      await feed(run, stdin);
    } catch (error) {
      const resticFirst = resticExited;
      kill();
      const status = await exited;
      if (status.error?.code === 'ENOENT') throw new LifeboatError('PROVIDER', 'restic is not installed (not found on PATH)', { hint: 'install it (Debian: apt-get install restic)' });
      if (resticFirst && !options.signal?.aborted) {
        throw resticFailed(status);
      }
      throw error;
    }
    stdin.end();
    const status = await exited;
    if (options.signal?.aborted) throw new LifeboatError('INTERRUPTED', `${options.where}: restic backup of ${source.label} was stopped (${abortReason(options.signal.reason)})`);
    if (status.code !== 0) {
      throw resticFailed(status);
    }
    const summary = stdoutTail
      .text()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { message_type?: string; snapshot_id?: string; data_added?: number })
      .find((message) => message.message_type === 'summary');
    if (!summary?.snapshot_id) throw new LifeboatError('PROVIDER', `${options.where}: restic backup --stdin of ${source.label} reported no snapshot: ${lastLines(stderrTail.text(), 4)}`);
    return { id: summary.snapshot_id, bytes: summary.data_added };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    kill();
  }
}
