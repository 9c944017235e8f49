// Restoring on a second host whose --state-dir (or --root) is not the one the snapshot was made with
// (README "Restoring on a fresh host"): the module's state dir and environment file are stored under the
// first host's absolute paths, so an in-place restore is refused before anything runs, naming both paths
// and the fix; with the old paths it restores the state dir and hands the restore steps the snapshot's
// environment. A Clan-style provider on a fresh host (no records of what create made) says what is missing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, PROJECT, type TestRoot } from '../helpers/root.js';
import { describeTree } from '../helpers/fs-state.js';

// An NS8-style restore step: keeps the request, then copies SECRET_TOKEN from request.environment into
// the state dir's environment as agent.set_env would (the other keys stay).
const COPYENV = `#!/usr/bin/env node
const fs = require('node:fs');
const request = JSON.parse(fs.readFileSync(0, 'utf8'));
fs.writeFileSync(process.env.REQUEST_OUT, JSON.stringify(request));
const env = new Map();
if (fs.existsSync('environment')) for (const line of fs.readFileSync('environment', 'utf8').split('\\n')) { const at = line.indexOf('='); if (at > 0) env.set(line.slice(0, at), line.slice(at + 1)); }
if ('SECRET_TOKEN' in request.environment) env.set('SECRET_TOKEN', request.environment.SECRET_TOKEN);
fs.writeFileSync('environment', [...env].map(([k, v]) => k + '=' + v + '\\n').join(''), { mode: 0o600 });
`;

let t: TestRoot;
let data: string;
let repo: string;
let requestOut: string;

beforeEach(() => {
  t = makeRoot({ repositories: {} });
  repo = path.join(t.dir, 'tar');
  t.write('lifeboat.yaml', stringify({ repositories: { archive: { provider: 'tar', url: repo, compression: 'none' } } }));
  data = path.join(t.dir, 'live', 'ns');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'd.txt'), 'data\n');
  t.module('ns', { folders: [data] });
  requestOut = path.join(t.dir, 'request.json');
  t.write('environment', `REQUEST_OUT=${requestOut}\n`);
  t.write('modules/ns/environment', 'WIKI_TITLE=first\n');
  t.part('restore', '06copyenv', COPYENV, 'ns');
  const stateDir = path.join(t.stateDir, 'modules', 'ns', 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(stateDir, 's.txt'), 'state of host 1\n');
  writeFileSync(path.join(stateDir, 'environment'), 'SECRET_TOKEN=host1value\nTCP_PORT=20001\n', { mode: 0o600 });
});
afterEach(() => t.cleanup());

// Host 2: another state dir (and, with `root`, another config root: a copy of the first one's config).
function host2(options: { root?: boolean } = {}): { root: string; stateDir: string; moduleState: string } {
  const stateDir = path.join(t.dir, 'state2');
  let root = t.root;
  if (options.root) {
    root = path.join(t.dir, 'root2');
    cpSync(t.root, root, { recursive: true });
  }
  const moduleState = path.join(stateDir, 'modules', 'ns', 'state');
  mkdirSync(moduleState, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(moduleState, 'environment'), 'SECRET_TOKEN=host2value99\n', { mode: 0o600 });
  return { root, stateDir, moduleState };
}
const archives = () => readdirSync(repo, { recursive: true }).filter((name) => String(name).endsWith('.manifest.json')).sort();

describe('an in-place restore on a host with another state dir', () => {
  it('is refused before anything runs, naming both state dirs and the fix; nothing changed', async () => {
    const backup = await lifeboat(t, ['backup', 'ns', '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const id = JSON.parse(backup.stdout).modules[0].snapshots[0].id as string;
    const h2 = host2();
    const before = describeTree(t.dir);
    const snapshotsBefore = archives();
    const restore = await lifeboat({ root: h2.root, stateDir: h2.stateDir }, ['restore', 'ns']);
    expect(restore.exitCode).toBe(2);
    const old = path.join(t.stateDir, 'modules', 'ns', 'state');
    expect(restore.stderr).toContain(
      `snapshot ${id} of archive was made with --state-dir ${t.stateDir}, not ${h2.stateDir}: it holds module ns's state dir as ${old}, but this host's is ${h2.moduleState}; restored in place, that would not come back (and restore steps would get an empty request.environment); nothing was run or changed`,
    );
    expect(restore.stderr).toContain(`restore with the paths it was made with (--state-dir ${t.stateDir}; an empty state dir there is fine), or restore it with --target DIR and copy DIR${old} into ${h2.moduleState}`);
    // nothing ran (no restore step, no safety snapshot), nothing changed
    expect(existsSync(requestOut)).toBe(false);
    expect(archives()).toEqual(snapshotsBefore);
    expect(readFileSync(path.join(h2.moduleState, 'environment'), 'utf8')).toBe('SECRET_TOKEN=host2value99\n');
    expect(describeTree(t.dir)).toEqual(before);
  });

  it('with another root too, names both; restored with the old paths on a fresh state dir, the state dir comes back and the steps get the snapshot\'s environment', async () => {
    const backup = await lifeboat(t, ['backup', 'ns', '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const id = JSON.parse(backup.stdout).modules[0].snapshots[0].id as string;
    const h2 = host2({ root: true });
    const refused = await lifeboat({ root: h2.root, stateDir: h2.stateDir }, ['restore', 'ns', id]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `snapshot ${id} of archive was made with --state-dir ${t.stateDir} and --root ${t.root}, not ${h2.stateDir} and ${h2.root}: it holds module ns's state dir as ${path.join(t.stateDir, 'modules/ns/state')}, but this host's is ${h2.moduleState}; and module ns's environment file as ${path.join(t.root, 'modules/ns/environment')}, but this host's is ${path.join(h2.root, 'modules/ns/environment')}; restored in place`,
    );
    expect(refused.stderr).toContain(`(--state-dir ${t.stateDir} --root ${t.root}; an empty state dir there is fine)`);
    expect(existsSync(requestOut)).toBe(false);

    // --target still restores, saying where the state dir lands
    const target = path.join(t.dir, 'out');
    const targeted = await lifeboat({ root: h2.root, stateDir: h2.stateDir }, ['restore', 'ns', id, '--target', target]);
    expect(targeted.exitCode, targeted.stderr).toBe(0);
    expect(targeted.stderr).toContain(`under ${target} it comes back as ${path.join(target, t.stateDir, 'modules/ns/state')} and ${path.join(target, t.root, 'modules/ns/environment')}`);
    expect(readFileSync(path.join(target, t.stateDir, 'modules/ns/state/s.txt'), 'utf8')).toBe('state of host 1\n');

    // the fix: the first host is gone (its state dir empty); restore with its paths
    rmSync(t.stateDir, { recursive: true, force: true });
    writeFileSync(path.join(data, 'd.txt'), 'damaged\n');
    rmSync(requestOut, { force: true });
    const restore = await lifeboat(t, ['restore', 'ns', id]);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(readFileSync(path.join(t.stateDir, 'modules/ns/state/s.txt'), 'utf8')).toBe('state of host 1\n');
    expect(readFileSync(path.join(data, 'd.txt'), 'utf8')).toBe('data\n');
    const request = JSON.parse(readFileSync(requestOut, 'utf8'));
    expect(request.environment).toEqual({ WIKI_TITLE: 'first', SECRET_TOKEN: 'host1value', TCP_PORT: '20001' });
    // (what the step wrote is what stays, as in NethServer: README "NethServer 8")
    expect(readFileSync(path.join(t.stateDir, 'modules/ns/state/environment'), 'utf8')).toContain('SECRET_TOKEN=host1value\n');
  });
});

void PROJECT;
