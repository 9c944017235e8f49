// The runtime LifeboatError messages of the tar, borg and restic providers (plugins/), met through the
// built CLI with a real fault: a tar archive or manifest damaged on disk (bytes flipped in the real tar
// format, the checksum fixed where the test wants the parser to get further), a file that shrinks or
// cannot be read (sysfs), a tool on PATH that is the real one failing (zstd writing to /dev/full) or a
// shim in the test's own temp dir that runs the real restic or borg and then fails or cuts its output.
// Each case asserts the message a user sees (byte for byte, after the part's prefix), the exit status,
// and that nothing was changed or left behind: the live tree, the restore target, the repository's files
// (on disk, or as the real restic/borg list them).
//
// TESTING.md ("LifeboatError messages and their tests") lists which case meets which site.
import { describe, expect, it, onTestFinished } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execaSync } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { treesOf, waitForFile } from '../helpers/faults.js';

// A root whose module m (folder data/ with f.txt) uses one repository `local` of the given settings.
function rootWith(repository: Record<string, unknown>, moduleExtra: Record<string, unknown> = {}): TestRoot & { data: string; repo: string } {
  const t = makeRoot();
  onTestFinished(() => t.cleanup());
  const data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'f.txt'), 'hello\n');
  const repo = path.join(t.dir, 'repo');
  t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify({ url: repo, ...repository })}\n`);
  t.module('m', { folders: [data], ...moduleExtra });
  return Object.assign(t, { data, repo });
}

// Runs `lifeboat backup m -q`, which must succeed.
function backupOk(t: TestRoot, env: Record<string, string> = {}): void {
  const result = execaSync('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm', '-q'], { reject: false, env });
  expect(result.exitCode, result.stderr).toBe(0);
}

// Writes executable shims into the test's own temp dir; returns the PATH that finds them first.
function shims(t: TestRoot, scripts: Record<string, string>): string {
  const dir = path.join(t.dir, 'shims');
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(scripts)) writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return `${dir}:${process.env.PATH}`;
}

// The real path of a tool (a shim execs it).
function real(tool: string): string {
  return execaSync('sh', ['-c', `command -v ${tool}`]).stdout.trim();
}

// stderr with its last newline (execa strips it): every message line ends in \n.
const said = (result: { stderr: string }) => `${result.stderr}\n`;

// What a failed part prints: `[m] error: <action> failed at <phase/part>: <message>`.
const failedAt = (action: string, part: string, message: string) => `[m] error: ${action} failed at ${part}: ${message}\n`;
const snapshotFailed = (message: string) => failedAt('backup', 'backup/50snapshot', `snapshot failed in 1 repository(ies): local: ${message}`);
const restoreFailed = (message: string) => failedAt('restore', 'restore/10restore_module', message);

// ---------------------------------------------------------------------------------------------------
// tar: the archive format (tar-format.ts), read back by restore

// One header of a plain (compression: none) tar archive.
interface Header {
  offset: number;
  name: string;
  type: string;
  size: number;
}

// The headers of a tar archive, up to its end-of-archive blocks.
function headers(archive: Buffer): Header[] {
  const out: Header[] = [];
  for (let offset = 0; offset + 512 <= archive.length; ) {
    const block = archive.subarray(offset, offset + 512);
    if (block.every((byte) => byte === 0)) break;
    const size = parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    out.push({ offset, name: block.subarray(0, 100).toString('latin1').replace(/\0.*$/s, ''), type: String.fromCharCode(block[156]), size });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

// Writes a header's checksum for its (edited) bytes, as tar does.
function fixChecksum(archive: Buffer, offset: number): void {
  archive.fill(0x20, offset + 148, offset + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += archive[offset + i];
  archive.write(`${sum.toString(8).padStart(6, '0')}\0 `, offset + 148, 'latin1');
}

// The module's only archive (and its manifest) in a tar repository.
function only(t: { repo: string }, suffix: string): string {
  const dir = path.join(t.repo, 'm');
  const names = readdirSync(dir).filter((name) => name.endsWith(suffix));
  expect(names).toHaveLength(1);
  return path.join(dir, names[0]);
}

// A tar repository (plain tar: its bytes are edited in place) with one backup of module m.
function tarBackedUp(repository: Record<string, unknown> = {}): ReturnType<typeof rootWith> {
  const t = rootWith({ provider: 'tar', compression: 'none', ...repository });
  backupOk(t);
  return t;
}

// The header of data/f.txt and the pax header before it.
function fileHeaders(t: ReturnType<typeof rootWith>, archive: Buffer): { pax: Header; file: Header } {
  const all = headers(archive);
  const index = all.findIndex((h) => h.type === '0' && h.name === `${t.data.slice(1)}/f.txt`);
  expect(all[index - 1].type).toBe('x');
  return { pax: all[index - 1], file: all[index] };
}

// Restores into a new target after `damage` edited the archive; the restore must fail with `message`,
// create no target and leave the live tree and the repository's files as they were after the damage.
async function restoreDamaged(t: ReturnType<typeof rootWith>, damage: (archive: Buffer) => Buffer, message: (archive: string) => string): Promise<void> {
  const file = only(t, '.tar');
  writeFileSync(file, damage(readFileSync(file)));
  const before = treesOf({ data: t.data, repo: t.repo });
  const target = path.join(t.dir, 'target');
  const result = await lifeboat(t, ['restore', 'm', '--target', target]);
  expect(said(result)).toContain(restoreFailed(message(file)));
  expect(result.stderr).not.toContain('internal error');
  expect(result.exitCode, result.stderr).toBe(1);
  expect(existsSync(target), 'the restore target was left behind').toBe(false);
  expect(treesOf({ data: t.data, repo: t.repo })).toEqual(before);
}

describe.concurrent('tar: a damaged archive read back by restore', () => {
  it('a header whose checksum does not match (tar-format checkSum)', async () => {
    const t = tarBackedUp();
    await restoreDamaged(
      t,
      (archive) => {
        archive[fileHeaders(t, archive).file.offset + 5] ^= 1;
        return archive;
      },
      () => 'the archive has a damaged header (checksum mismatch)',
    );
  });

  it('an entry of a type tar does not define', async () => {
    const t = tarBackedUp();
    await restoreDamaged(
      t,
      (archive) => {
        const { file } = fileHeaders(t, archive);
        archive[file.offset + 156] = 'Z'.charCodeAt(0);
        fixChecksum(archive, file.offset);
        return archive;
      },
      () => 'the archive has an entry of unknown type "Z"',
    );
  });

  it('a pax header that says it is larger than 8 MiB', async () => {
    const t = tarBackedUp();
    await restoreDamaged(
      t,
      (archive) => {
        const { pax } = fileHeaders(t, archive);
        archive.write(`${(9 << 20).toString(8).padStart(11, '0')}\0`, pax.offset + 124, 'latin1');
        fixChecksum(archive, pax.offset);
        return archive;
      },
      () => `the archive has an extended header of ${9 << 20} bytes (more than ${8 << 20})`,
    );
  });

  it('a pax record whose length runs past its header', async () => {
    const t = tarBackedUp();
    await restoreDamaged(
      t,
      (archive) => {
        const { pax } = fileHeaders(t, archive);
        // "30 mtime=..." -> "99 mtime=...": the record would end beyond the 30-byte header
        expect(archive.subarray(pax.offset + 512, pax.offset + 515).toString('latin1')).toMatch(/^\d\d /);
        archive.write('99', pax.offset + 512, 'latin1');
        return archive;
      },
      () => 'the archive has a damaged pax header',
    );
  });

  it('a pax record without "="', async () => {
    const t = tarBackedUp();
    await restoreDamaged(
      t,
      (archive) => {
        const { pax } = fileHeaders(t, archive);
        const record = archive.subarray(pax.offset + 512, pax.offset + 512 + pax.size);
        const equals = record.indexOf('=');
        expect(equals).toBeGreaterThan(0);
        record[equals] = '_'.charCodeAt(0);
        return archive;
      },
      () => 'the archive has a damaged pax header',
    );
  });

  it("a file's bytes changed in the archive (extract: sha256 against the file list)", async () => {
    const t = tarBackedUp();
    await restoreDamaged(
      t,
      (archive) => {
        archive[fileHeaders(t, archive).file.offset + 512] ^= 1;
        return archive;
      },
      (file) =>
        `tar repository "local" of module m, archive ${path.basename(file)}: ${t.data}/f.txt does not match its manifest (sha256 ${sha256('iello\n').slice(0, 12)}, expected ${sha256('hello\n').slice(0, 12)}): the archive is damaged`,
    );
  });

  it('an archive cut in the middle of an entry', async () => {
    const t = tarBackedUp();
    let cut = 0;
    await restoreDamaged(
      t,
      (archive) => {
        cut = fileHeaders(t, archive).file.offset + 512 + 3;
        return archive.subarray(0, cut);
      },
      (file) => `${file}: cut short or damaged: ${cut} bytes read, the manifest records ${manifestOf(t).archiveSize} (the archive ends in the middle of an entry (truncated))`,
    );
  });

  it('an archive cut before its end-of-archive blocks', async () => {
    const t = tarBackedUp();
    let cut = 0;
    await restoreDamaged(
      t,
      (archive) => {
        const last = headers(archive).at(-1)!;
        cut = last.offset + 512 + Math.ceil(last.size / 512) * 512;
        return archive.subarray(0, cut);
      },
      (file) => `${file}: cut short or damaged: ${cut} bytes read, the manifest records ${manifestOf(t).archiveSize} (the archive ends without its end-of-archive blocks (truncated))`,
    );
  });

  it('an archive that is a directory (any read error, named with the archive)', async () => {
    const t = tarBackedUp();
    const file = only(t, '.tar');
    rmSync(file);
    mkdirSync(file);
    const before = treesOf({ data: t.data, repo: t.repo });
    const target = path.join(t.dir, 'target');
    const result = await lifeboat(t, ['restore', 'm', '--target', target]);
    expect(said(result)).toContain(restoreFailed(`tar repository "local" of module m, archive ${path.basename(file)}: EISDIR: illegal operation on a directory, read`));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(existsSync(target)).toBe(false);
    expect(treesOf({ data: t.data, repo: t.repo })).toEqual(before);
  });

  it('a damaged archive restored in place leaves the live tree as it was', async () => {
    const t = tarBackedUp();
    writeFileSync(path.join(t.data, 'f.txt'), 'changed since the backup\n');
    writeFileSync(path.join(t.data, 'new.txt'), 'new\n');
    const file = only(t, '.tar');
    const archive = readFileSync(file);
    archive[fileHeaders(t, archive).file.offset + 5] ^= 1;
    writeFileSync(file, archive);
    const before = treesOf({ data: t.data });
    const beside = readdirSync(t.dir).sort();
    const result = await lifeboat(t, ['restore', 'm']);
    expect(said(result)).toContain(restoreFailed('the archive has a damaged header (checksum mismatch)'));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(treesOf({ data: t.data })).toEqual(before);
    // no staging folder left beside the live one
    expect(readdirSync(t.dir).sort()).toEqual(beside);
    // the repository holds the two snapshots (the backup, and the safety backup taken before the restore) and nothing else
    expect(readdirSync(path.join(t.repo, 'm')).filter((name) => !/\.(tar|manifest\.json|files\.ndjson\.gz)$/.test(name))).toEqual([]);
    expect(readdirSync(path.join(t.repo, 'm')).filter((name) => name.endsWith('.manifest.json'))).toHaveLength(2);
    expect(readFileSync(path.join(t.data, 'f.txt'), 'utf8')).toBe('changed since the backup\n');
  });
});

// The parsed manifest of the module's only snapshot.
function manifestOf(t: { repo: string }): { archiveSize: number; list: { size: number } } {
  return JSON.parse(readFileSync(only(t, '.manifest.json'), 'utf8'));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
