// loom's backup.sh job as a module (test/fixtures/loom): the service is stopped when SHOULD_STOP_SERVICE
// says so, the SQLite database is dumped, the data folder goes into a tar archive kept locally and uploaded
// to S3; damaged, it is restored with tree and rows compared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, PROJECT } from '../helpers/root.js';
import { createFakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';
import { objectKeys, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, startS3, type S3Server } from '../helpers/s3.js';

const FIXTURE = path.join(PROJECT, 'test', 'fixtures', 'loom', 'module.yaml');
let server: S3Server;
beforeAll(async () => {
  server = await startS3();
});
afterAll(async () => {
  await server?.stop();
});

const rows = (db: string) => execFileSync('sqlite3', [db, 'SELECT id, name FROM items ORDER BY id'], { encoding: 'utf8' });

describe("loom's backup.sh as a module", () => {
  it('round-trips through a local archive and its S3 upload; SHOULD_STOP_SERVICE=false leaves the service running', async () => {
    const t = makeRoot();
    const service = await createFakeService();
    try {
      const prefix = `loom-${randomBytes(3).toString('hex')}`;
      t.write('lifeboat.yaml', stringify({ repositories: { archive: { provider: 'tar', url: path.join(t.dir, 'archives'), upload: `s3://${S3_BUCKET}/${prefix}`, encryption: 'none', endpoint: server.endpoint, cacert: server.caFile, compression: 'zstd', env: { AWS_ACCESS_KEY_ID: '${AWS_ACCESS_KEY_ID}', AWS_SECRET_ACCESS_KEY: '${AWS_SECRET_ACCESS_KEY}' } } } }));
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
});
