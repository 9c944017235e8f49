// loom's backup.sh job as a module (test/fixtures/loom): the service is stopped when SHOULD_STOP_SERVICE
// says so, the SQLite database is dumped, the data folder goes into a tar archive kept locally and uploaded
// to S3; damaged, it is restored with tree and rows compared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, PROJECT } from '../helpers/root.js';
import { createFakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';
import { objectKeys, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, startFaultProxy, startS3, type S3Server } from '../helpers/s3.js';

const FIXTURE = path.join(PROJECT, 'test', 'fixtures', 'loom', 'module.yaml');
let server: S3Server;
beforeAll(async () => {
  server = await startS3();
});
afterAll(async () => {
  await server?.stop();
});

const rows = (db: string) => execFileSync('sqlite3', [db, 'SELECT id, name FROM items ORDER BY id'], { encoding: 'utf8' });

// A root with the loom module: a tar repository with a local folder and an S3 upload (through `endpoint`),
// the data folder with an SQLite database, the fake service, and a part recording whether it runs.
async function setupLoom(endpoint: string) {
  const t = makeRoot();
  const service = await createFakeService();
  const prefix = `loom-${randomBytes(3).toString('hex')}`;
  t.write('lifeboat.yaml', stringify({ repositories: { archive: { provider: 'tar', url: path.join(t.dir, 'archives'), upload: `s3://${S3_BUCKET}/${prefix}`, encryption: 'none', endpoint, cacert: server.caFile, compression: 'zstd', timeout: 600, env: { AWS_ACCESS_KEY_ID: '${AWS_ACCESS_KEY_ID}', AWS_SECRET_ACCESS_KEY: '${AWS_SECRET_ACCESS_KEY}' } } } }));
  t.write('environment', `AWS_ACCESS_KEY_ID=${S3_ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY=${S3_SECRET_KEY}\n`);
  const data = path.join(t.dir, 'data');
  mkdirSync(path.join(data, 'uploads'), { recursive: true });
  writeFileSync(path.join(data, 'uploads', 'photo.jpg'), randomBytes(200 * 1024));
  writeFileSync(path.join(data, 'config.json'), '{"name":"loom"}\n');
  const db = path.join(data, 'app.db');
  execFileSync('sqlite3', [db, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1, 'a'), (2, 'b');"]);
  const yaml = readFileSync(FIXTURE, 'utf8')
    .replaceAll('@DATA@', data)
    .replace('"@STOP@"', () => JSON.stringify(service.stop))
    .replace('"@START@"', () => JSON.stringify(service.start))
    .replace('"@ISACTIVE@"', () => JSON.stringify(service.isActive));
  t.write('modules/app/module.yaml', yaml);
  return { t, service, prefix, data, db };
}

describe("loom's backup.sh as a module", () => {
  it('round-trips through a local archive and its S3 upload; SHOULD_STOP_SERVICE=false leaves the service running', async () => {
    const { t, service, prefix, data, db } = await setupLoom(server.endpoint);
    try {
      t.part('backup', '10seen', `#!/bin/sh\n${service.isActive} && echo running >> "${t.dir}/seen" || echo stopped >> "${t.dir}/seen"\n`, 'app');

      const backup = await lifeboat(t, ['backup', 'app']);
      expect(backup.exitCode, backup.stderr).toBe(0);
      const noStop = await lifeboat(t, ['backup', 'app'], { env: { SHOULD_STOP_SERVICE: 'false' } });
      expect(noStop.exitCode, noStop.stderr).toBe(0);
      expect(readFileSync(path.join(t.dir, 'seen'), 'utf8')).toBe('stopped\nrunning\n');
      expect(service.isRunning()).toBe(true);
      expect((await objectKeys(server, `${prefix}/app/`)).length).toBeGreaterThanOrEqual(2);

      const tree = describeTree(data).filter((line) => !line.startsWith('app.db'));
      const before = rows(db);
      execFileSync('sqlite3', [db, "DELETE FROM items WHERE id = 1; INSERT INTO items VALUES (3, 'spam');"]);
      rmSync(path.join(data, 'uploads'), { recursive: true });
      // the local archives are gone too: the restore comes from S3
      rmSync(path.join(t.dir, 'archives'), { recursive: true });

      const restore = await lifeboat(t, ['restore', 'app']);
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(describeTree(data).filter((line) => !line.startsWith('app.db'))).toEqual(tree);
      expect(rows(db)).toBe(before);
      expect(service.isRunning()).toBe(true);
      expect(`${backup.stderr}${restore.stderr}`).not.toContain(S3_SECRET_KEY);
    } finally {
      service.cleanup();
      t.cleanup();
    }
  });
  it('a local archive that is missing or fails its checksum: the restore streams from S3, with a warning', async () => {
    const { t, service, data, db } = await setupLoom(server.endpoint);
    try {
      const backup = await lifeboat(t, ['backup', 'app', '--json']);
      expect(backup.exitCode, backup.stderr).toBe(0);
      const local = path.join(t.dir, 'archives', 'app');
      const archive = readdirSync(local).find((name) => name.endsWith('.tar.zst'))!;
      const tree = describeTree(data).filter((line) => !line.startsWith('app.db'));
      const before = rows(db);
      for (const damage of ['missing', 'damaged'] as const) {
        execFileSync('sqlite3', [db, "DELETE FROM items WHERE id = 1; INSERT INTO items VALUES (3, 'spam');"]);
        rmSync(path.join(data, 'uploads'), { recursive: true });
        const bytes = readFileSync(path.join(local, archive));
        if (damage === 'missing') rmSync(path.join(local, archive));
        else {
          bytes[Math.floor(bytes.length / 2)] ^= 0xff;
          writeFileSync(path.join(local, archive), bytes);
        }
        const restore = await lifeboat(t, ['restore', 'app', '--no-safety-snapshot']);
        expect(restore.exitCode, restore.stderr).toBe(0);
        expect(restore.stderr).toMatch(new RegExp(`${path.join(local, archive)} ${damage === 'missing' ? 'is missing' : 'fails its checksum \\(size or sha256 differs from its manifest\\)'}; restoring from s3://\\S+/app/${archive} at https://127\\.0\\.0\\.1:\\d+ instead`));
        expect(describeTree(data).filter((line) => !line.startsWith('app.db'))).toEqual(tree);
        expect(rows(db)).toBe(before);
        if (damage === 'missing') writeFileSync(path.join(local, archive), bytes);
      }
      // a complete local archive without its manifest (a run killed while it uploaded): check names it with its path
      const stray = path.join(local, '0badc0de-app-20260101T000000.000Z.tar.zst');
      writeFileSync(stray, 'left over');
      const check = await lifeboat(t, ['check']);
      expect(`${check.stdout}${check.stderr}`).toContain(`unfinished files of an earlier run (not snapshots; a run killed during its upload leaves them): ${stray}; remove them`);
    } finally {
      service.cleanup();
      t.cleanup();
    }
  });
  it('Ctrl-C while 95finish_uploads waits for the upload: what the upload logs is under that part', { timeout: 600_000 }, async () => {
    const proxy = await startFaultProxy(server);
    const { t, service } = await setupLoom(proxy.endpoint);
    const until = async (what: string, ok: () => boolean) => {
      for (const deadline = Date.now() + 300_000; !ok(); await new Promise((resolve) => setTimeout(resolve, 100))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      }
    };
    try {
      proxy.holdPuts = /\.tar\.zst/;
      let settled = false;
      const running = lifeboat(t, ['backup', 'app']);
      void running.finally(() => (settled = true));
      await until('the upload is held and the service runs', () => (proxy.held > 0 && service.isRunning()) || settled);
      expect(settled).toBe(false);
      running.kill('SIGINT');
      const result = await running;
      const lines = result.stderr.split('\n');
      const uploadLines = lines.filter((line) => /upload stopped|could not remove|multipart/.test(line));
      expect(uploadLines.length, result.stderr).toBeGreaterThan(0);
      expect(lines.filter((line) => line.startsWith('[app/50snapshot]') && /upload/.test(line) && !line.includes('the local archive is complete')), result.stderr).toEqual([]);
    } finally {
      proxy.release();
      await proxy.close();
      service.cleanup();
      t.cleanup();
    }
  });
  it('starts the service again once the local archive is complete, before the upload; a failed upload fails the run and leaves no snapshot', { timeout: 600_000 }, async () => {
    const proxy = await startFaultProxy(server);
    const { t, service, prefix } = await setupLoom(proxy.endpoint);
    const until = async (what: string, ok: () => boolean | Promise<boolean>) => {
      for (const deadline = Date.now() + 300_000; !(await ok()); await new Promise((resolve) => setTimeout(resolve, 100))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      }
    };
    const local = path.join(t.dir, 'archives', 'app');
    const localFiles = () => readdirSync(local).sort();
    const s3Manifests = async () => (await objectKeys(server, `${prefix}/app/`)).filter((key) => key.endsWith('.manifest.json'));
    try {
      t.part('backup', '10seen', `#!/bin/sh\n${service.isActive} && echo running >> "${t.dir}/seen" || echo stopped >> "${t.dir}/seen"\n`, 'app');
      // the archive's upload is held at the S3 proxy until the test lets it through
      proxy.holdPuts = /\.tar\.zst/;
      let settled = false;
      const running = lifeboat(t, ['backup', 'app', '--json']);
      void running.finally(() => (settled = true));
      await until('the upload is held', () => proxy.held > 0 || settled);
      expect(settled, 'the backup ended before its upload was held').toBe(false);
      await until('the service runs again', () => service.isRunning() || settled);
      // the service runs again while the upload is still going: the snapshot is not listed anywhere yet
      expect(settled).toBe(false);
      expect(readFileSync(path.join(t.dir, 'seen'), 'utf8')).toBe('stopped\n');
      expect(localFiles().filter((name) => name.endsWith('.manifest.json'))).toEqual([]);
      expect(localFiles().filter((name) => name.endsWith('.tar.zst'))).toHaveLength(1);
      expect(await s3Manifests()).toEqual([]);
      proxy.release();
      const backup = await running;
      expect(backup.exitCode, backup.stderr).toBe(0);
      const id = JSON.parse(backup.stdout).modules[0].snapshots[0].id as string;
      expect(localFiles()).toEqual([`${id}.files.ndjson.gz`, `${id}.manifest.json`, `${id}.tar.zst`]);
      expect(await s3Manifests()).toEqual([`${prefix}/app/${id}.manifest.json`]);
      const log = backup.stderr;
      expect(log.indexOf('starting ')).toBeGreaterThan(-1);
      expect(log.indexOf(`snapshot ${id} in archive: uploaded`)).toBeGreaterThan(log.indexOf('starting '));
      expect(service.isRunning()).toBe(true);

      // a failed upload: the run fails, the service runs, and nothing of the snapshot is left
      proxy.holdPuts = /\.tar\.zst/;
      settled = false;
      const failing = lifeboat(t, ['backup', 'app', '--json']);
      void failing.finally(() => (settled = true));
      await until('the upload is held', () => proxy.held > 0 || settled);
      await until('the service runs again', () => service.isRunning() || settled);
      expect(settled).toBe(false);
      proxy.release('deny');
      const failed = await failing;
      expect(failed.exitCode).toBe(1);
      expect(failed.stderr).toContain('95finish_uploads');
      expect(failed.stderr).toMatch(/\[app\] error: backup failed at finally\/95finish_uploads: upload failed in 1 repository\(ies\): archive: tar repository "archive" of module app: upload failed; snapshot (\S+) was removed \(the local archive too\): upload to s3:\/\/\S+\.tar\.zst at https:\/\/127\.0\.0\.1:\d+: access denied \(AccessDenied\)$/m);
      expect(JSON.parse(failed.stdout).modules[0].snapshots).toEqual([]);
      expect(service.isRunning()).toBe(true);
      expect(localFiles()).toEqual([`${id}.files.ndjson.gz`, `${id}.manifest.json`, `${id}.tar.zst`]);
      expect(await s3Manifests()).toEqual([`${prefix}/app/${id}.manifest.json`]);
      const listed = JSON.parse((await lifeboat(t, ['snapshots', 'app', '--json'])).stdout);
      expect(listed.map((s: { id: string }) => s.id)).toEqual([id]);
      expect(readFileSync(path.join(t.dir, 'seen'), 'utf8')).toBe('stopped\nstopped\n');
      // a complete local archive without its manifest (a run killed while it uploaded) is named as unfinished
      writeFileSync(path.join(local, '0badc0de-app-20260101T000000.000Z.tar.zst'), 'left over');
      const next = await lifeboat(t, ['backup', 'app']);
      expect(next.exitCode, next.stderr).toBe(0);
      expect(next.stderr).toContain('unfinished files of an earlier run (not snapshots; remove them): 0badc0de-app-20260101T000000.000Z.tar.zst');
    } finally {
      proxy.release();
      await proxy.close();
      service.cleanup();
      t.cleanup();
    }
  });
});
