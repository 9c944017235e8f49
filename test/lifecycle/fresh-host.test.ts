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

describe('a restore on a host with another state dir', () => {
  it('puts the snapshot\'s module state dir into this host\'s and hands the steps the snapshot\'s environment', async () => {
    const backup = await lifeboat(t, ['backup', 'ns', '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const id = JSON.parse(backup.stdout).modules[0].snapshots[0].id as string;
    const h2 = host2();
    const old = path.join(t.stateDir, 'modules', 'ns', 'state');
    const oldTree = describeTree(old);
    writeFileSync(path.join(data, 'd.txt'), 'damaged\n');
    const restore = await lifeboat({ root: h2.root, stateDir: h2.stateDir }, ['restore', 'ns', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stderr).toContain(`snapshot ${id} was made with --state-dir ${t.stateDir}: its state dir of module ns, ${old}, is restored as this host's ${h2.moduleState}`);
    expect(restore.stdout).toContain('restore ns: ok');
    expect(readFileSync(path.join(h2.moduleState, 's.txt'), 'utf8')).toBe('state of host 1\n');
    expect(readFileSync(path.join(data, 'd.txt'), 'utf8')).toBe('data\n');
    const request = JSON.parse(readFileSync(requestOut, 'utf8'));
    expect(request.environment).toEqual({ WIKI_TITLE: 'first', SECRET_TOKEN: 'host1value', TCP_PORT: '20001' });
    // what the step wrote stays (README "NethServer 8"): the snapshot's token, not an empty file
    expect(readFileSync(path.join(h2.moduleState, 'environment'), 'utf8')).toContain('SECRET_TOKEN=host1value\n');
    // the first host's state dir was not touched
    expect(describeTree(old)).toEqual(oldTree);
    expect(readdirSync(h2.moduleState).filter((n) => n.startsWith('.lifeboat'))).toEqual([]);
  });

  it('with another root too: the environment file comes back into this root; --target puts both where this host keeps them', async () => {
    const backup = await lifeboat(t, ['backup', 'ns', '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const id = JSON.parse(backup.stdout).modules[0].snapshots[0].id as string;
    const h2 = host2({ root: true });
    const envHere = path.join(h2.root, 'modules/ns/environment');
    writeFileSync(envHere, 'WIKI_TITLE=second\n');
    const target = path.join(t.dir, 'out');
    const targeted = await lifeboat({ root: h2.root, stateDir: h2.stateDir }, ['restore', 'ns', id, '--target', target]);
    expect(targeted.exitCode, targeted.stderr).toBe(0);
    expect(targeted.stderr).toContain(
      `snapshot ${id} was made with --state-dir ${t.stateDir} and --root ${t.root}: its state dir of module ns, ${path.join(t.stateDir, 'modules/ns/state')}, is restored as this host's ${h2.moduleState}; its environment file of module ns, ${path.join(t.root, 'modules/ns/environment')}, is restored as this host's ${envHere}`,
    );
    expect(readFileSync(path.join(target, h2.moduleState, 's.txt'), 'utf8')).toBe('state of host 1\n');
    expect(readFileSync(path.join(target, envHere), 'utf8')).toBe('WIKI_TITLE=first\n');
    expect(existsSync(path.join(target, t.stateDir))).toBe(false);
    expect(existsSync(path.join(target, t.root))).toBe(false);

    const restore = await lifeboat({ root: h2.root, stateDir: h2.stateDir }, ['restore', 'ns', id]);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(readFileSync(envHere, 'utf8')).toBe('WIKI_TITLE=first\n');
    expect(readFileSync(path.join(h2.moduleState, 's.txt'), 'utf8')).toBe('state of host 1\n');
    expect(JSON.parse(readFileSync(requestOut, 'utf8')).environment).toEqual({ WIKI_TITLE: 'first', SECRET_TOKEN: 'host1value', TCP_PORT: '20001' });
  });
});

void PROJECT;
void rmSync;
void archives;
