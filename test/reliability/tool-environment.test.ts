// A module's `environment` comes back with a restore from untrusted storage: what it sets must not reach
// Lifeboat's own tools. restic reads TMPDIR and RESTIC_CACHE_DIR, the PostgreSQL clients PGOPTIONS; a
// module environment setting them changes nothing about how restic and pg_dump run.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

describe('environment files never reach the tools', () => {
  let t: TestRoot;
  afterEach(() => t.cleanup());

  it('TMPDIR, RESTIC_CACHE_DIR and PGOPTIONS in a module environment do not reach restic or pg_dump', { timeout: 120_000 }, async () => {
    t = makeRoot({ repositories: {} });
    writeFileSync(path.join(t.dir, 'repo.pass'), 'tool environment\n', { mode: 0o600 });
    t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify({ provider: 'restic', url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'repo.pass') })}\n`);
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'f'), 'x\n');
    const cache = path.join(t.dir, 'attacker-cache');
    t.write('modules/m/environment', `TMPDIR=${path.join(t.dir, 'no-such-dir')}\nRESTIC_CACHE_DIR=${cache}\nPGOPTIONS=-c statement_timeout=1\n`);
    t.module('m', { folders: [data], databases: [{ postgres: { database: 'postgres', host: '127.0.0.1', user: 'postgres' } }] });
    // a part still sees the module's environment, as the README promises
    t.part('pre-backup', '10show', `#!/bin/sh\nprintf %s "$TMPDIR" > "${path.join(t.dir, 'seen')}"\n`, 'm');
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(readFileSync(path.join(t.dir, 'seen'), 'utf8')).toBe(path.join(t.dir, 'no-such-dir'));
    expect(existsSync(cache)).toBe(false);
  });
});
