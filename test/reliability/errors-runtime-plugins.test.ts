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
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execaSync } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { treesOf, waitForFile } from '../helpers/faults.js';

// What the tests leave behind, removed once the file is done: the blocks run concurrently, and the global
// onTestFinished would attach a clean-up to whichever concurrent test is current (one removed another's
// root while it still ran).
const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

// A root whose module m (folder data/ with f.txt) uses one repository `local` of the given settings.
function rootWith(repository: Record<string, unknown>, moduleExtra: Record<string, unknown> = {}): TestRoot & { data: string; repo: string } {
  const t = makeRoot();
  cleanups.push(() => t.cleanup());
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

// A string as a regular expression matching itself.
const escapeRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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
// The hint (`restore another snapshot; ...`) is asserted unless `hint` is false.
// The archive's size and SHA-256 are first put into its file list's end line and its manifest, as someone
// who can write a plaintext repository would: restore then gets past its archive-against-manifest check
// (met on its own below) to what the tar reader and zstd find.
async function restoreDamaged(t: ReturnType<typeof rootWith>, damage: (archive: Buffer) => Buffer, message: (archive: string) => string, hint = true): Promise<void> {
  const file = readdirSync(path.join(t.repo, 'm')).map((name) => path.join(t.repo, 'm', name)).find((name) => /\.tar(\.zst)?$/.test(name))!;
  const damaged = damage(readFileSync(file));
  writeFileSync(file, damaged);
  forgeRecords(t, damaged);
  const before = treesOf({ data: t.data, repo: t.repo });
  const target = path.join(t.dir, 'target');
  const result = await lifeboat(t, ['restore', 'm', '--target', target]);
  expect(said(result)).toContain(restoreFailed(message(file)));
  if (hint) expect(said(result)).toContain('[m] error: hint: restore another snapshot; `lifeboat verify` checks every archive and file list of the module\n');
  expect(result.stderr).not.toContain('internal error');
  expect(result.exitCode, result.stderr).toBe(1);
  expect(existsSync(target), 'the restore target was left behind').toBe(false);
  expect(treesOf({ data: t.data, repo: t.repo })).toEqual(before);
}

// Rewrites the module's only manifest and its file list's end line to record `archive`'s size and SHA-256.
function forgeRecords(t: { repo: string }, archive: Buffer): void {
  const archiveSize = archive.length;
  const archiveSha256 = createHash('sha256').update(archive).digest('hex');
  const manifestFile = only(t, '.manifest.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  const listFile = path.join(path.dirname(manifestFile), manifest.list.name);
  const lines = gunzipSync(readFileSync(listFile)).toString('utf8').split('\n').filter(Boolean);
  lines[lines.length - 1] = JSON.stringify({ ...JSON.parse(lines[lines.length - 1]), archiveSize, archiveSha256 });
  const list = gzipSync(`${lines.join('\n')}\n`);
  writeFileSync(listFile, list);
  Object.assign(manifest, { archiveSize, archiveSha256 });
  Object.assign(manifest.list, { size: list.length, sha256: createHash('sha256').update(list).digest('hex') });
  writeFileSync(manifestFile, JSON.stringify(manifest));
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
      (file) => `${file}: the archive has a damaged header (checksum mismatch)`,
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
      (file) => `${file}: the archive has an entry of unknown type "Z"`,
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
      (file) => `${file}: the archive has an extended header of ${9 << 20} bytes (more than ${8 << 20})`,
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
      (file) => `${file}: the archive has a damaged pax header`,
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
      (file) => `${file}: the archive has a damaged pax header`,
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
      false,
    );
  });

  it('an archive cut in the middle of an entry', async () => {
    const t = tarBackedUp();
    await restoreDamaged(
      t,
      (archive) => archive.subarray(0, fileHeaders(t, archive).file.offset + 512 + 3),
      (file) => `${file}: the archive ends in the middle of an entry (truncated)`,
    );
  });

  it('an archive cut before its end-of-archive blocks', async () => {
    const t = tarBackedUp();
    await restoreDamaged(
      t,
      (archive) => {
        const last = headers(archive).at(-1)!;
        return archive.subarray(0, last.offset + 512 + Math.ceil(last.size / 512) * 512);
      },
      (file) => `${file}: the archive ends without its end-of-archive blocks (truncated)`,
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
    forgeRecords(t, archive);
    const before = treesOf({ data: t.data });
    const beside = readdirSync(t.dir).sort();
    const result = await lifeboat(t, ['restore', 'm']);
    expect(said(result)).toContain(restoreFailed(`${file}: the archive has a damaged header (checksum mismatch)`));
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

// ---------------------------------------------------------------------------------------------------
// tar: a repository folder damaged on disk, met by `lifeboat snapshots` (stores.ts). A manifest that
// cannot be read is warned about; when none can, the listing fails (never "no snapshots").

// `lifeboat snapshots m` after `damage`: fails naming the manifest's problem, and changes nothing.
async function listDamaged(t: ReturnType<typeof rootWith>, problem: string): Promise<void> {
  const before = treesOf({ repo: t.repo, data: t.data });
  const result = await lifeboat(t, ['snapshots', 'm']);
  const dir = path.join(t.repo, 'm');
  expect(said(result)).toContain(`warn: ${problem}\n`);
  expect(said(result)).toContain(
    `lifeboat: ${dir}: none of its 1 manifest(s) can be read: ${problem}\nlifeboat: hint: the repository is damaged: restore its manifests from a copy (each archive is listed by its <id>.manifest.json)\n`,
  );
  expect(result.stdout).toBe('');
  expect(result.exitCode, result.stderr).toBe(1);
  expect(treesOf({ repo: t.repo, data: t.data })).toEqual(before);
}

// Rewrites the module's only manifest with `edit` applied to its JSON.
function editManifest(t: { repo: string }, edit: (manifest: Record<string, unknown> & { list: Record<string, unknown> }) => void): string {
  const file = only(t, '.manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  edit(manifest);
  writeFileSync(file, JSON.stringify(manifest));
  return file;
}

describe.concurrent('tar: a damaged repository folder', () => {
  it('a manifest whose encryption record Lifeboat does not write', async () => {
    const t = tarBackedUp();
    const file = editManifest(t, (m) => (m.encryption = { format: 'zip', mode: 'passphrase' }));
    await listDamaged(t, `${file} is unreadable: its encryption record is not one Lifeboat writes`);
  });

  it('a manifest whose file list record Lifeboat does not write', async () => {
    const t = tarBackedUp();
    const file = editManifest(t, (m) => (m.list.size = -1));
    await listDamaged(t, `${file} is unreadable: its file list record is not one Lifeboat writes`);
  });

  it('a manifest that is a directory', async () => {
    const t = tarBackedUp();
    const file = only(t, '.manifest.json');
    rmSync(file);
    mkdirSync(file);
    await listDamaged(t, `${file}: refused: not a regular file`);
  });

  it('a manifest larger than a manifest may be', async () => {
    const t = tarBackedUp();
    const file = only(t, '.manifest.json');
    truncateSync(file, 64 * 1024 * 1024 + 1);
    await listDamaged(t, `${file}: refused: ${64 * 1024 * 1024 + 1} bytes, more than a manifest may have (${64 * 1024 * 1024})`);
  });

  it('a manifest that is a symlink to itself (any other open error)', async () => {
    const t = tarBackedUp();
    const file = only(t, '.manifest.json');
    rmSync(file);
    symlinkSync(path.basename(file), file);
    await listDamaged(t, `${file}: ELOOP: too many symbolic links encountered, open '${file}'`);
  });

  it("the module's folder is a file", async () => {
    const t = rootWith({ provider: 'tar' });
    mkdirSync(t.repo);
    writeFileSync(path.join(t.repo, 'm'), 'not a folder\n');
    const result = await lifeboat(t, ['snapshots', 'm']);
    const dir = path.join(t.repo, 'm');
    expect(said(result)).toContain(`lifeboat: ${dir}: ENOTDIR: not a directory, scandir '${dir}'\nlifeboat: hint: make url (${t.repo}) a folder, or point url: at one\n`);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(readFileSync(dir, 'utf8')).toBe('not a folder\n');
  });
});

// ---------------------------------------------------------------------------------------------------
// tar: backups that fail while the archive is made (pack.ts, streams.ts, xattrs.ts, index.ts): nothing
// is kept in the repository, not even a .partial file.

// `lifeboat backup m` must fail with `message` (and `hint`), exit 1, and leave the repository empty.
async function backupFails(t: ReturnType<typeof rootWith>, message: string | RegExp, options: { hint?: string; env?: Record<string, string> } = {}): Promise<void> {
  const before = treesOf({ data: t.data });
  const result = await lifeboat(t, ['backup', 'm'], { env: options.env });
  if (typeof message === 'string') expect(said(result)).toContain(snapshotFailed(message));
  else expect(said(result)).toMatch(message);
  if (options.hint) expect(said(result)).toContain(`[m] error: hint: ${options.hint}\n`);
  expect(result.stderr).not.toContain('internal error');
  expect(result.exitCode, result.stderr).toBe(1);
  expect(readdirSync(path.join(t.repo, 'm')), 'files left in the repository').toEqual([]);
  expect(treesOf({ data: t.data })).toEqual(before);
}

// The first regular file pack reads below a folder (names in byte order).
function firstFile(dir: string): string {
  const names = readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return path.join(dir, names.find((name) => execaSync('test', ['-f', path.join(dir, name)], { reject: false }).exitCode === 0)!);
}

const SHRINKS = '/sys/kernel/mm/transparent_hugepage/khugepaged';

describe.concurrent('tar: a backup that fails while it archives', () => {
  it('a file that is shorter than its size (a sysfs attribute: 4096 bytes by stat, a few when read)', async () => {
    const t = rootWith({ provider: 'tar' }, { folders: [SHRINKS] });
    const file = firstFile(SHRINKS);
    const read = readFileSync(file).length;
    await backupFails(t, `${file} shrank from 4096 to ${read} bytes while it was archived`, { hint: 'stop the service during the backup (service.stopDuringBackup: true) or exclude the file' });
  });

  it('a file that cannot be read (a write-only sysfs attribute)', async () => {
    const t = rootWith({ provider: 'tar' }, { folders: ['/sys/bus/cpu'] });
    await backupFails(t, /\[m\] error: backup failed at backup\/50snapshot: snapshot failed in 1 repository\(ies\): local: tar repository "local" of module m: backup failed, nothing was kept: EACCES: permission denied, open '\/sys\/bus\/cpu\/[^']+'\n/, {
      hint: 'a path vanished or could not be read; fix it or exclude it (exclude: in module.yaml)',
    });
  });

  // streams.ts's own "zstd is not installed" stays for a zstd removed while a run is under way: the
  // backup's preflight finds a missing one before anything runs.
  it('zstd not installed: the preflight refuses before anything runs', async () => {
    const t = rootWith({ provider: 'tar' });
    const bin = path.join(t.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const before = treesOf({ data: t.data, repo: t.repo });
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH: bin } });
    expect(said(result)).toContain('lifeboat: lifeboat.yaml: /repositories/local: zstd is not installed (not found on PATH), and the tar repository needs it; install it (Debian: apt-get install zstd)\n');
    expect(result.exitCode, result.stderr).toBe(2);
    expect(treesOf({ data: t.data, repo: t.repo })).toEqual(before);
  });

  it('zstd failing while it compresses (the real zstd writing to a full disk)', async () => {
    const t = rootWith({ provider: 'tar' });
    const PATH = shims(t, { zstd: `exec ${real('zstd')} "$@" >/dev/full` });
    await backupFails(t, 'zstd compression failed (exit 1): zstd: /*stdout*\\: No space left on device', { env: { PATH } });
  });

  it('getfattr printing more than 256 MiB', async () => {
    const t = rootWith({ provider: 'tar' });
    const PATH = shims(t, { getfattr: `exec head -c ${(256 << 20) + 1} /dev/zero` });
    await backupFails(t, 'getfattr printed more than 256 MiB of extended attributes', { env: { PATH }, hint: 'exclude the folders that hold them, or use restic or borg' });
  });

  it('SIGTERM while zstd compresses: stopped, the incomplete archive removed', async () => {
    const t = rootWith({ provider: 'tar' });
    const started = path.join(t.dir, 'zstd-read-everything');
    // zstd reads the whole tar stream, then never answers (a stuck compressor)
    const PATH = shims(t, { zstd: `cat >/dev/null; : > ${started}; exec tail -f /dev/null` });
    const run = lifeboat(t, ['backup', 'm'], { env: { PATH } });
    await waitForFile(started);
    run.kill('SIGTERM');
    const result = await run;
    expect(said(result)).toContain('[m/50snapshot] error: tar repository "local" of module m: backup stopped; the incomplete archive was removed\n');
    expect(said(result)).toContain('[m] error: backup failed at backup/50snapshot: interrupted by SIGTERM\n');
    expect(result.exitCode, result.stderr).toBe(1); // README: a signal counts as a failure, exit 1
    expect(readdirSync(path.join(t.repo, 'm'))).toEqual([]);
  });
});

describe.concurrent('tar: a restore that fails in a tool', () => {
  it('an archive zstd cannot decompress (its first byte damaged)', async () => {
    const t = rootWith({ provider: 'tar' });
    backupOk(t);
    const file = only(t, '.tar.zst');
    const archive = readFileSync(file);
    archive[0] ^= 0xff;
    writeFileSync(file, archive);
    forgeRecords(t, archive);
    const before = treesOf({ data: t.data, repo: t.repo });
    const target = path.join(t.dir, 'target');
    const result = await lifeboat(t, ['restore', 'm', '--target', target]);
    expect(said(result)).toContain(restoreFailed(`${file}: zstd decompression failed (exit 1): zstd: /*stdin*\\: unsupported format`));
    expect(said(result)).toContain('[m] error: hint: restore another snapshot; `lifeboat verify` checks every archive and file list of the module\n');
    expect(result.exitCode, result.stderr).toBe(1);
    expect(existsSync(target)).toBe(false);
    expect(treesOf({ data: t.data, repo: t.repo })).toEqual(before);
  });

  it('setfattr refusing an attribute (the real setfattr, given a namespace the kernel does not know)', async () => {
    const t = rootWith({ provider: 'tar' });
    execaSync('setfattr', ['-n', 'user.lifeboat', '-v', 'kept', path.join(t.data, 'f.txt')]);
    backupOk(t);
    const PATH = shims(t, { setfattr: `sed 's/^user\\./bogus./' | exec ${real('setfattr')} "$@"` });
    const before = treesOf({ data: t.data, repo: t.repo });
    const target = path.join(t.dir, 'target');
    const result = await lifeboat(t, ['restore', 'm', '--target', target], { env: { PATH } });
    // setfattr names the file in the restore's staging folder under the target
    const archive = path.basename(only(t, '.tar.zst'));
    const staging = String.raw`\.lifeboat-restore-[0-9TZ]+-[0-9a-f]+-target-\d+`;
    expect(said(result)).toMatch(
      new RegExp(
        `${escapeRe(restoreFailed(`tar repository "local" of module m, archive ${archive}: extended attributes or ACLs could not be restored: setfattr: ${target}/`).slice(0, -1))}${staging}${escapeRe(`${t.data}/f.txt: Operation not supported\n`)}`,
      ),
    );
    expect(said(result)).toContain('[m] error: hint: restore as root onto a file system with xattr and ACL support (ext4, xfs, btrfs)\n');
    expect(result.exitCode, result.stderr).toBe(1);
    expect(existsSync(target)).toBe(false);
    expect(treesOf({ data: t.data, repo: t.repo })).toEqual(before);
  });

  it('SIGTERM while zstd decompresses: stopped', async () => {
    const t = rootWith({ provider: 'tar' });
    backupOk(t);
    const started = path.join(t.dir, 'zstd-read-everything');
    const zstd = real('zstd');
    const PATH = shims(t, { zstd: `case " $* " in *" -d "*) cat >/dev/null; : > ${started}; exec tail -f /dev/null;; esac\nexec ${zstd} "$@"` });
    const before = treesOf({ data: t.data, repo: t.repo });
    const target = path.join(t.dir, 'target');
    const run = lifeboat(t, ['restore', 'm', '--target', target], { env: { PATH } });
    await waitForFile(started);
    run.kill('SIGTERM');
    const result = await run;
    expect(said(result)).toContain(`[m/10restore_module] error: tar repository "local" of module m, archive ${path.basename(only(t, '.tar.zst'))}: stopped\n`);
    expect(said(result)).toContain('[m] error: restore failed at restore/10restore_module: interrupted by SIGTERM\n');
    expect(result.exitCode, result.stderr).toBe(1); // README: a signal counts as a failure, exit 1
    expect(existsSync(target)).toBe(false);
    expect(treesOf({ data: t.data, repo: t.repo })).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------------
// restic and borg: the real tools, failing on a real fault or through a shim that runs them and then
// fails or cuts their output. What the repository holds afterwards is asked of the real tool.

const UNREADABLE = '/sys/bus/cpu'; // holds write-only sysfs attributes (uevent, drivers_probe): EACCES even for root

// A root with repository `local` of restic or borg (passphrase in pass) and module m.
function toolRoot(provider: 'restic' | 'borg', moduleExtra: Record<string, unknown> = {}): ReturnType<typeof rootWith> & { pass: string } {
  const t = rootWith({ provider, passwordFile: '__PASS__' }, moduleExtra);
  const pass = path.join(t.dir, 'pass');
  writeFileSync(pass, 'errors-runtime-plugins\n', { mode: 0o600 });
  t.write('lifeboat.yaml', readFileSync(path.join(t.root, 'lifeboat.yaml'), 'utf8').replace('__PASS__', pass));
  return Object.assign(t, { pass });
}

// The module's snapshots as restic lists them (every tag); restic failing fails the test.
function resticSnapshots(t: { repo: string; pass: string }): Array<{ short_id: string; tags?: string[] }> {
  return JSON.parse(execaSync('restic', ['-r', path.join(t.repo, 'm'), '--password-file', t.pass, 'snapshots', '--json']).stdout);
}

// The module's archives as borg lists them; borg failing fails the test.
function borgArchives(t: { dir: string; repo: string; pass: string }): string[] {
  const env = { BORG_PASSCOMMAND: `cat ${t.pass}`, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes', BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes' };
  const listed = JSON.parse(execaSync('borg', ['list', '--json', path.join(t.repo, 'm')], { env }).stdout) as { archives: Array<{ name: string }> };
  return listed.archives.map((archive) => archive.name);
}

// A Redis database of its own keys (a streamed dump: restic --stdin, borg through a pipe), removed after the test.
function redisDatabase(bytes = 6): { database: Record<string, unknown>; label: string } {
  const prefix = `lifeboat-errplugins-${process.pid}-${Math.random().toString(16).slice(2)}`;
  execaSync('redis-cli', ['-x', 'set', `${prefix}:k`], { input: 'x'.repeat(bytes) });
  cleanups.push(() => void execaSync('redis-cli', ['del', `${prefix}:k`]));
  return { database: { redis: { url: 'redis://127.0.0.1:6379/0', keys: [`${prefix}:*`] } }, label: `Redis 127.0.0.1:6379 db 0 (keys ${prefix}:*)` };
}

const where = 'restic repository "local" of module m';
const RESTIC = () => real('restic');
// A restic shim: `stdin` runs for backup --stdin, `main` for the module's backup, anything else is the real restic.
function resticShim(t: TestRoot, cases: { stdin?: string; main?: string; snapshots?: string }): string {
  return shims(t, {
    restic: [
      'case "$1 $*" in',
      ...(cases.stdin ? [`  "backup "*--stdin*) ${cases.stdin};;`] : []),
      ...(cases.main ? [`  "backup "*) case "$*" in *--stdin*) ;; *) ${cases.main};; esac;;`] : []),
      ...(cases.snapshots ? [`  "snapshots "*) ${cases.snapshots};;`] : []),
      'esac',
      `exec ${RESTIC()} "$@"`,
    ].join('\n'),
  });
}

describe.concurrent('restic: a backup that fails', () => {
  it('restic cannot read some files (exit 3): the incomplete snapshot is removed', async () => {
    const t = toolRoot('restic', { folders: [UNREADABLE] });
    const result = await lifeboat(t, ['backup', 'm']);
    expect(said(result)).toMatch(
      new RegExp(`${escapeRe(snapshotFailed(`${where}: restic could not read `).slice(0, -1))}(${UNREADABLE}/[^,;\\n]+)(, ${UNREADABLE}/[^,;\\n]+)*( and \\d+ more)?; the incomplete snapshot [0-9a-f]{8} was removed\\n`),
    );
    expect(said(result)).toContain('[m] error: hint: fix the permissions or exclude those paths (exclude: in module.yaml), then back up again\n');
    expect(result.exitCode, result.stderr).toBe(1);
    expect(resticSnapshots(t)).toEqual([]);
  });

  it('restic backup exits 0 but its summary is cut from its output', async () => {
    const t = toolRoot('restic');
    // the real restic backs up (--dry-run: it stores nothing), its summary line is lost
    const out = path.join(t.dir, 'restic.out');
    const PATH = resticShim(t, { main: `shift; ${RESTIC()} backup --dry-run "$@" > ${out}; rc=$?; grep -v '"message_type":"summary"' ${out}; exit $rc` });
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH } });
    expect(said(result)).toContain(snapshotFailed(`${where}: restic backup exited 0 without reporting a snapshot: `));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(resticSnapshots(t)).toEqual([]);
  });

  it('restic reports a snapshot it did not save (backup --dry-run)', async () => {
    const t = toolRoot('restic');
    const PATH = resticShim(t, { main: `shift; exec ${RESTIC()} backup --dry-run "$@"` });
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH } });
    expect(said(result)).toMatch(new RegExp(`${escapeRe(snapshotFailed(`${where}: restic reported snapshot `).slice(0, -1))}[0-9a-f]{8} but does not list it\\n`));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(resticSnapshots(t)).toEqual([]);
  });

  it('restic snapshots printing JSON cut short', async () => {
    const t = toolRoot('restic');
    backupOk(t);
    const before = resticSnapshots(t);
    const full = execaSync('restic', ['-r', path.join(t.repo, 'm'), '--password-file', t.pass, 'snapshots', '--json']).stdout;
    // the snapshot cache would answer without restic
    rmSync(path.join(t.stateDir, 'cache'), { recursive: true, force: true });
    const PATH = resticShim(t, { snapshots: `${RESTIC()} "$@" | head -c 40; exit 0` });
    const result = await lifeboat(t, ['snapshots', 'm'], { env: { PATH } });
    expect(said(result)).toContain(`lifeboat: ${where}: restic snapshots printed invalid JSON: ${full.slice(0, 40)}\n`);
    expect(result.stdout).toBe('');
    expect(result.exitCode, result.stderr).toBe(1);
    expect(resticSnapshots(t)).toEqual(before);
  });
});

describe.concurrent('restic: a streamed dump (backup --stdin) that fails', () => {
  // restic refuses the repository (a wrong password) before it reads stdin
  const wrongPassword = (t: TestRoot) => {
    writeFileSync(path.join(t.dir, 'wrong'), 'wrong\n', { mode: 0o600 });
    return resticShim(t, { stdin: `shift; exec ${RESTIC()} backup --password-file ${path.join(t.dir, 'wrong')} "$@"` });
  };

  it('restic failing after the whole (small) dump was handed over', async () => {
    const { database, label } = redisDatabase();
    const t = toolRoot('restic', { databases: [database] });
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH: wrongPassword(t) } });
    expect(said(result)).toContain(snapshotFailed(`${where}: restic backup --stdin of ${label} failed (exit 1): Fatal: wrong password or no key found`));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(resticSnapshots(t)).toEqual([]);
  });

  it('restic failing while the dump (2 MiB, more than a pipe holds) is still being fed', async () => {
    const { database, label } = redisDatabase(2 << 20);
    const t = toolRoot('restic', { databases: [database] });
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH: wrongPassword(t) } });
    expect(said(result)).toContain(snapshotFailed(`${where}: restic backup --stdin of ${label} failed (exit 1): Fatal: wrong password or no key found`));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(resticSnapshots(t)).toEqual([]);
  });

  it('restic reading the dump but reporting no snapshot (its summary cut)', async () => {
    const { database, label } = redisDatabase();
    const t = toolRoot('restic', { databases: [database] });
    const out = path.join(t.dir, 'restic.out');
    const PATH = resticShim(t, { stdin: `shift; ${RESTIC()} backup --dry-run "$@" > ${out}; rc=$?; grep -v '"message_type":"summary"' ${out}; exit $rc` });
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH } });
    expect(said(result)).toContain(snapshotFailed(`${where}: restic backup --stdin of ${label} reported no snapshot: `));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(resticSnapshots(t)).toEqual([]);
  });

  // stdin.ts's own "restic is not installed" stays for a restic removed while a run is under way: the
  // backup's preflight finds a missing one before the dump (or anything else) runs.
  it('restic not installed with a streamed dump: the preflight refuses before the dump runs', async () => {
    const { database } = redisDatabase();
    const t = toolRoot('restic', { databases: [database] });
    backupOk(t);
    const before = resticSnapshots(t);
    const bin = path.join(t.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const result = await lifeboat(t, ['backup', 'm', '--verbose'], { env: { PATH: bin } });
    expect(result.stderr).not.toMatch(/running restic /);
    expect(said(result)).toContain('lifeboat: lifeboat.yaml: /repositories/local: restic is not installed (not found on PATH), and the restic repository needs it; install it (Debian: apt-get install restic)\n');
    expect(result.exitCode, result.stderr).toBe(2);
    expect(resticSnapshots(t)).toEqual(before);
  });

  it('SIGTERM while restic backs up the dump', async () => {
    const { database, label } = redisDatabase();
    const t = toolRoot('restic', { databases: [database] });
    const started = path.join(t.dir, 'restic-read-the-dump');
    // restic reads the whole dump, then does not finish (a stuck repository)
    const PATH = resticShim(t, { stdin: `cat >/dev/null; : > ${started}; exec tail -f /dev/null` });
    const run = lifeboat(t, ['backup', 'm'], { env: { PATH } });
    await waitForFile(started);
    run.kill('SIGTERM');
    const result = await run;
    expect(said(result)).toContain(`[m/50snapshot] error: ${where}: restic backup of ${label} was stopped (SIGTERM)\n`);
    expect(said(result)).toContain('[m] error: backup failed at backup/50snapshot: interrupted by SIGTERM\n');
    expect(result.exitCode, result.stderr).toBe(1);
    expect(resticSnapshots(t)).toEqual([]);
  });
});

describe.concurrent('borg: a backup or restore that fails', () => {
  const borgWhere = 'borg repository "local" of module m';
  const unreadable = (t: TestRoot) =>
    new RegExp(
      `${escapeRe(snapshotFailed(`${borgWhere}: borg could not read everything (`).slice(0, -1))}${UNREADABLE}/[^|)]+: open: \\[Errno 13\\] Permission denied: '[^']+'( \\| ${UNREADABLE}/[^|)]+: open: \\[Errno 13\\] Permission denied: '[^']+')*\\); the incomplete archive m-\\d{8}T\\d{6}\\.\\d{3}Z was deleted\\n${escapeRe('[m] error: hint: fix the permissions or exclude those paths (exclude: in module.yaml), then back up again\n')}`,
    );

  it('borg cannot read some files (exit 1): the incomplete archive is deleted', async () => {
    const t = toolRoot('borg', { folders: [UNREADABLE] });
    const result = await lifeboat(t, ['backup', 'm']);
    expect(said(result)).toMatch(unreadable(t));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(borgArchives(t)).toEqual([]);
  });

  it('borg cannot read some files while it also reads a streamed dump', async () => {
    const { database } = redisDatabase();
    const t = toolRoot('borg', { folders: [UNREADABLE], databases: [database] });
    const result = await lifeboat(t, ['backup', 'm']);
    expect(said(result)).toMatch(unreadable(t));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(borgArchives(t)).toEqual([]);
    const dumps = path.join(t.stateDir, 'modules', 'm', 'state', 'databases');
    expect(existsSync(dumps) ? readdirSync(dumps) : [], 'a pipe was left').toEqual([]);
  });

  it('borg never opening the pipe of a streamed dump (its path excluded)', async () => {
    const { database, label } = redisDatabase();
    const t = toolRoot('borg', { databases: [database] });
    const PATH = shims(t, { borg: `if [ "$1" = create ]; then shift; exec ${real('borg')} create --exclude 'sh:**/databases/*' "$@"; fi\nexec ${real('borg')} "$@"` });
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH } });
    expect(said(result)).toContain(snapshotFailed(`${borgWhere}: borg did not read the dump of ${label}; is the state dir excluded?`));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(borgArchives(t)).toEqual([]);
  });

  it('mkfifo failing to make the pipe of a streamed dump', async () => {
    const { database, label } = redisDatabase();
    const t = toolRoot('borg', { databases: [database] });
    const PATH = shims(t, { mkfifo: 'echo "mkfifo: cannot create fifo \'$3\': Operation not supported" >&2\nexit 1' });
    const pipe = path.join(t.stateDir, 'modules', 'm', 'state', 'databases', `redis-db0.redis`);
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH } });
    expect(said(result)).toContain(snapshotFailed(`cannot create the pipe ${pipe} for ${label}: mkfifo: cannot create fifo '${pipe}': Operation not supported`));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(existsSync(path.join(t.repo, 'm')) ? borgArchives(t) : []).toEqual([]);
  });

  it('borg extract ending with a warning (exit 1): the restore is incomplete', async () => {
    const t = toolRoot('borg');
    backupOk(t);
    const before = treesOf({ data: t.data });
    const archives = borgArchives(t);
    // the real borg extract, given an include pattern that matches nothing: it warns and exits 1
    const PATH = shims(t, { borg: `if [ "$1" = extract ]; then exec ${real('borg')} "$@" pp:never/matched; fi\nexec ${real('borg')} "$@"` });
    const target = path.join(t.dir, 'target');
    const result = await lifeboat(t, ['restore', 'm', '--target', target], { env: { PATH } });
    expect(said(result)).toContain(restoreFailed(`${borgWhere}: borg extract of ${archives[0]} was incomplete: Include pattern 'never/matched' never matched.`));
    expect(result.exitCode, result.stderr).toBe(1);
    expect(existsSync(target)).toBe(false);
    expect(treesOf({ data: t.data })).toEqual(before);
    expect(borgArchives(t)).toEqual(archives);
  });
});
