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
import { CLAN_LIST, CLAN_RESTORE } from '../helpers/clan-scripts.js';

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
    // a folder configured here that the snapshot does not hold is said, and left as it is
    const extra = path.join(t.dir, 'live', 'extra');
    mkdirSync(extra);
    writeFileSync(path.join(extra, 'e.txt'), 'extra\n');
    t.module('ns', { folders: [data, extra] });
    const restore = await lifeboat({ root: h2.root, stateDir: h2.stateDir }, ['restore', 'ns', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stderr).toContain(`warn: ${extra} is not in snapshot ${id}; left as it is`);
    expect(readFileSync(path.join(extra, 'e.txt'), 'utf8')).toBe('extra\n');
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

const CLAN_CREATE = `#!/bin/bash
set -eu
mkdir -p "$LIFEBOAT_REPOSITORY_URL"
name="$(date -u +%Y-%m-%dT%H:%M:%S.%N)-$RANDOM"
IFS=: read -ra F <<< "$FOLDERS"
tar -C / -cf "$LIFEBOAT_REPOSITORY_URL/$name.tar" "\${F[@]/#\\//}"
`;

// tar keeps whole-second mtimes: compare them in seconds.
const inSeconds = (dir: string) => describeTree(dir).map((line) => line.replace(/ (\d+)$/, (_m, ms: string) => ` ${Math.floor(Number(ms) / 1000)}`));

describe('a Clan-style provider on a fresh host (no records of what create made)', () => {
  it('an exact id or latest says what is missing (not "no snapshots yet"); with the records copied, it restores', async () => {
    const clanRepo = path.join(t.dir, 'clan');
    const config = (options: Record<string, unknown>) => t.write('lifeboat.yaml', stringify({ repositories: { clan: { provider: 'clanbk', url: clanRepo, options } } }));
    config({});
    t.write('plugins/clanbk/create', CLAN_CREATE, 0o755);
    t.write('plugins/clanbk/list', CLAN_LIST, 0o755);
    t.write('plugins/clanbk/restore', CLAN_RESTORE, 0o755);
    rmSync(path.join(t.root, 'modules/ns'), { recursive: true });
    rmSync(path.join(t.stateDir, 'modules/ns'), { recursive: true });
    t.module('clana', { folders: [data] });
    const oldState = path.join(t.stateDir, 'modules/clana/state');
    mkdirSync(oldState, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(oldState, 's.txt'), 'clan state\n');
    const backup = await lifeboat(t, ['backup', 'clana', '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const id = JSON.parse(backup.stdout).modules[0].snapshots[0].id as string;
    const dataTree = inSeconds(data);

    const h2 = { root: t.root, stateDir: path.join(t.dir, 'state2') };
    const records = path.join(h2.stateDir, 'providers/clan/snapshots.json');
    const list = path.join(t.root, 'plugins/clanbk/list');
    const exact = await lifeboat(h2, ['restore', 'clana', id]);
    expect(exact.exitCode).toBe(2);
    expect(exact.stderr).toContain(
      `module clana, repository clan: snapshot "${id}" is listed by ${list} but names no module, and this host has no record of what create made (${records} has none of them): Lifeboat cannot tell which module's it is nor which paths it holds (FOLDERS for ${path.join(t.root, 'plugins/clanbk/restore')}); nothing was changed`,
    );
    expect(exact.stderr).toContain(`copy providers/clan/snapshots.json from the state dir of the host that made it to ${records} and run the restore again; or, if ${list} prints only the snapshots of LIFEBOAT_MODULE, set options: { listPerModule: true } on repository "clan"`);
    expect(exact.stderr).not.toContain('no snapshots yet');
    const latest = await lifeboat(h2, ['restore', 'clana']);
    expect(latest.exitCode).toBe(2);
    expect(latest.stderr).toContain(`module clana, repository clan: 1 snapshot(s) that ${list} shows (${id}) name no module, and this host has no record of what create made`);
    expect(latest.stderr).not.toContain('no snapshots yet');

    // listPerModule: FOLDERS is every path of the module here; an environment file made after the backup
    // is not in the archive, and the message says why and what to do
    config({ listPerModule: true });
    t.write('modules/clana/environment', 'LATER=1\n');
    writeFileSync(path.join(data, 'd.txt'), 'damaged\n');
    const damaged = describeTree(data);
    const guessed = await lifeboat(h2, ['restore', 'clana', id, '--no-safety-snapshot']);
    expect(guessed.exitCode).toBe(1);
    expect(guessed.stderr).toContain(`this host has no record of which paths snapshot ${id} holds (${records} has none), so FOLDERS was every path of module clana as configured here (`);
    expect(guessed.stderr).toContain(`copy providers/clan/snapshots.json from the state dir of the host that made the snapshot to ${records} (FOLDERS is then exactly what it holds), and run the restore again`);
    expect(describeTree(data)).toEqual(damaged);

    // with the records of the host that made it: restored, its state dir into this host's
    config({});
    mkdirSync(path.dirname(records), { recursive: true, mode: 0o700 });
    cpSync(path.join(t.stateDir, 'providers/clan/snapshots.json'), records);
    const restored = await lifeboat(h2, ['restore', 'clana', id, '--no-safety-snapshot']);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(inSeconds(data)).toEqual(dataTree);
    expect(readFileSync(path.join(h2.stateDir, 'modules/clana/state/s.txt'), 'utf8')).toBe('clan state\n');
    // the environment file the snapshot does not hold stays as it is
    expect(readFileSync(path.join(t.root, 'modules/clana/environment'), 'utf8')).toBe('LATER=1\n');
  });
});

void PROJECT;
void archives;
