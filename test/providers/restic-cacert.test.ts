// A restic repository whose cacert: file is missing: check and backup say which key and what to do,
// instead of restic's Go stack trace; nothing is created.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from '../ops/tools.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

describe('restic cacert:', () => {
  it('a missing file is named with the key and the fix in check and backup', async (ctx) => {
    requireTool('restic', ctx);
    t = makeRoot();
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'cacert-test\n', { mode: 0o600 });
    const ca = path.join(t.dir, 'ca.pem');
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(t.dir, 'r'), passwordFile: pass, cacert: ca } } }));
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('m1', { folders: [data], retention: { keepLast: 1 } });
    const message = `lifeboat.yaml: repositories.local.cacert: ${ca} does not exist; put the server's CA certificate (PEM) there, point cacert: at it, or remove cacert: to use the system's CAs`;
    const check = await lifeboat(t, ['check', '--json']);
    expect(check.exitCode).toBe(1);
    expect(JSON.parse(check.stdout).findings).toContainEqual({ level: 'fail', subject: 'repository local (module m1)', message: `cannot be opened: ${message}` });
    const backup = await lifeboat(t, ['backup', 'm1']);
    expect(backup.exitCode).toBe(1);
    expect(backup.stdout).toContain(`backup m1: FAILED (backup/50snapshot: snapshot failed in 1 repository(ies): local: ${message})`);
    expect(backup.stderr).not.toContain('goroutine');
    expect(existsSync(path.join(t.dir, 'r', 'm1', 'config'))).toBe(false);
  }, 120_000);
});
