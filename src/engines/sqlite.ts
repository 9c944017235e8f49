// SQLite: a consistent online copy through SQLite's backup API (the sqlite3 CLI's .backup), never a raw
// copy of a live file. The copy is a file (it cannot stream), staged under databases/. Restore replaces the
// live file atomically: the dump is copied beside it, given the old file's owner and mode, the stale -wal
// and -shm files are removed, and a rename swaps it in.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, openSync, fsyncSync, closeSync, readSync, renameSync, rmSync, statSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LifeboatError } from '../errors.js';
import type { SqliteDatabase } from '../config/types.js';
import { encodeName, EXTENSIONS } from './names.js';
import { runToolText, startTool } from './process.js';
import type { DumpJob, EngineContext, EngineDeclaration, LoadJob, LoadSource } from './types.js';

// `SQLite database /var/lib/app/db.sqlite3`.
function labelOf(config: SqliteDatabase): string {
  return `SQLite database ${config.path}`;
}

// The dump file of an entry: sqlite-<name>.sqlite3, name defaulting to the file's base name.
function dumpFile(config: SqliteDatabase): string {
  const base = path.basename(config.path).replace(/\.(sqlite3?|db)$/i, '');
  return `sqlite-${config.name ?? encodeName(base)}${EXTENSIONS.sqlite}`;
}

// The dump job of one `sqlite:` entry (staged only: the backup API writes a database file).
export function sqliteDumps(config: SqliteDatabase): DumpJob[] {
  return [
    {
      engine: 'sqlite',
      file: dumpFile(config),
      label: labelOf(config),
      streamable: false,
      stage: (dest, ctx) => backupSqlite(config, dest, ctx),
    },
  ];
}

// The load job of one `sqlite:` entry.
export function sqliteLoads(config: SqliteDatabase): LoadJob[] {
  const label = labelOf(config);
  return [{ engine: 'sqlite', file: dumpFile(config), label, load: (source, ctx) => loadSqlite(config, source, ctx), check: (path, ctx) => checkSqlite(path, label, ctx) }];
}

// PRAGMA integrity_check of a dump (a database file).
export async function checkSqlite(file: string, label: string, ctx: EngineContext): Promise<string> {
  const out = (await runToolText({ file: 'sqlite3', args: ['-readonly', file, 'PRAGMA integrity_check;'], label: `the dump of ${label}` }, ctx)).trim();
  if (out !== 'ok') throw new LifeboatError('DATABASE', `${label}: the dump ${file} fails PRAGMA integrity_check: ${out.slice(0, 200)}`);
  return 'integrity_check ok';
}

// Copies a live database with .backup into `dest` (written beside it, then renamed).
export async function backupSqlite(config: SqliteDatabase, dest: string, ctx: EngineContext): Promise<void> {
  const label = labelOf(config);
  if (!existsSync(config.path)) throw new LifeboatError('DATABASE', `${label} does not exist`, { hint: 'fix path: in module.yaml, or create the database first' });
  const dir = path.dirname(dest);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A plain relative name: the .backup argument then needs no quoting beyond the fixed characters.
  const partial = `.${path.basename(dest)}.partial`;
  rmSync(path.join(dir, partial), { force: true });
  const script = `.timeout 30000\n.backup '${partial}'\n`;
  try {
    await runToolText({ file: 'sqlite3', args: ['-bail', '-readonly', config.path], label, cwd: dir }, { ...ctx, workDir: dir }, script);
    const check = await runToolText({ file: 'sqlite3', args: ['-readonly', partial, 'PRAGMA quick_check;'], label: `the copy of ${label}`, cwd: dir }, ctx);
    if (check.trim() !== 'ok') throw new LifeboatError('DATABASE', `${label}: the copy fails PRAGMA quick_check: ${check.trim().slice(0, 200)}`);
    chmodSync(path.join(dir, partial), 0o600);
    renameSync(path.join(dir, partial), dest);
  } finally {
    rmSync(path.join(dir, partial), { force: true });
  }
}

// Replaces the live database file atomically with the dump (stale -wal / -shm removed first).
export async function loadSqlite(config: SqliteDatabase, source: LoadSource, ctx: EngineContext): Promise<void> {
  const label = labelOf(config);
  const dir = path.dirname(config.path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const partial = path.join(dir, `.${path.basename(config.path)}.lifeboat-restore`);
  rmSync(partial, { force: true });
  try {
    if ('path' in source) copyFileSync(source.path, partial);
    else await pipeline(source.stream, createWriteStream(partial, { mode: 0o600 }));
    const check = startTool({ file: 'sqlite3', args: ['-readonly', partial, 'PRAGMA quick_check;'], label: `the dump of ${label}` }, ctx);
    let out = '';
    check.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    check.stdin.end();
    await check.done;
    if (out.trim() !== 'ok') throw new LifeboatError('DATABASE', `${label}: the dump fails PRAGMA quick_check: ${out.trim().slice(0, 200)}`);
    if (existsSync(config.path)) {
      const old = statSync(config.path);
      chmodSync(partial, old.mode & 0o7777);
      try {
        chownSync(partial, old.uid, old.gid);
      } catch {
        // not permitted when not root; the mode still matches
      }
    }
    const fd = openSync(partial, 'r');
    fsyncSync(fd);
    closeSync(fd);
    for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${config.path}${suffix}`, { force: true });
    renameSync(partial, config.path);
  } finally {
    rmSync(partial, { force: true });
  }
}

// The SQLite engine's declaration (src/engines/index.ts lists it).
export const sqliteEngine: EngineDeclaration<SqliteDatabase> = {
  kind: 'sqlite',
  dumps: (config) => sqliteDumps(config),
  loads: (config) => sqliteLoads(config),
  tools: () => [{ tool: 'sqlite3' }],
  probe(config) {
    const file = config.path;
    // A reason: `check` makes it a finding with its fix.
    if (readHeader(file) !== 'SQLite format 3\0') return Promise.reject(new Error(`${file} is not an SQLite database`));
    return Promise.resolve(`SQLite database ${file} exists`);
  },
};

// The first 16 bytes of a file (an SQLite database starts with "SQLite format 3\0").
function readHeader(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(16);
    return buffer.subarray(0, readSync(fd, buffer, 0, 16, 0)).toString('latin1');
  } finally {
    closeSync(fd);
  }
}
