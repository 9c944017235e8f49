// A script provider's create that prints no name and finishes after the wait (README "Clan"): its backup
// fails, and until its archive appears (or the pending mark runs out, options.lateCreateLimit) no other
// create in the repository runs, of the same module or another: a new entry could not be told apart from
// the late one. The provider is asynchronous for real: its archive is written by a background process
// that waits for a gate file the test opens.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { CLAN_LIST, CLAN_RESTORE } from '../helpers/clan-scripts.js';

const CREATE = `#!/bin/bash
# Clan-style asynchronous create: prints no name; the archive appears once $CLAN_GATE exists (at once without it).
set -eu
mkdir -p "$LIFEBOAT_REPOSITORY_URL"
echo "$LIFEBOAT_MODULE" >> "$LIFEBOAT_REPOSITORY_URL/../creates.log"
name="$(date -u +%Y-%m-%dT%H:%M:%S.%N)-$RANDOM"
IFS=: read -ra F <<< "$FOLDERS"
( url="$LIFEBOAT_REPOSITORY_URL"; gate="\${CLAN_GATE:-}"
  while [ -n "$gate" ] && [ ! -e "$gate" ]; do [ -d "$url" ] || exit 0; sleep 0.05; done
  tar -C / -cf "$url/.$name.tmp" "\${F[@]/#\\//}" && mv "$url/.$name.tmp" "$url/$name.tar" ) </dev/null >/dev/null 2>&1 & disown
`;

let t: TestRoot;
let backups: string;
const gates: string[] = [];

// The repository's options (createWait 0: a create whose archive is not there at once is late).
function repository(options: Record<string, unknown>): void {
  t.write('lifeboat.yaml', stringify({ repositories: { clan: { provider: 'clanbk', url: backups, options } } }));
}
// A module backing up <dir>/live/<name>/f; its create waits for `gate` (none: at once).
function module(name: string): string {
  const live = path.join(t.dir, 'live', name);
  mkdirSync(live, { recursive: true });
  t.module(name, { folders: [live] });
  return live;
}
function gate(name: string, file?: string): void {
  t.write(`modules/${name}/environment`, file ? `CLAN_GATE=${file}\n` : '');
}
function newGate(label: string): string {
  const file = path.join(t.dir, `gate-${label}`);
  gates.push(file);
  return file;
}
const archives = () => readdirSync(backups).filter((n) => n.endsWith('.tar')).map((n) => n.slice(0, -4)).sort();
const creates = () => (existsSync(path.join(t.dir, 'creates.log')) ? readFileSync(path.join(t.dir, 'creates.log'), 'utf8').split('\n').filter(Boolean) : []);
// Opens a gate and waits for the archive count to reach `count` (the event, not a time).
async function openGateAndWait(file: string, count: number): Promise<void> {
  writeFileSync(file, '');
  for (const deadline = Date.now() + 120_000; archives().length < count; await new Promise((resolve) => setTimeout(resolve, 50))) {
    if (Date.now() > deadline) throw new Error(`the late archive never appeared (${archives().length} of ${count})`);
  }
}
const snapshotIds = async (name: string) => {
  const result = await lifeboat(t, ['snapshots', name, '--repo', 'clan', '--json']);
  expect(result.exitCode, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as Array<{ id: string }>).map((s) => s.id);
};
async function restoredFile(name: string, live: string): Promise<string> {
  const target = path.join(t.dir, `restored-${name}-${Date.now()}`);
  const result = await lifeboat(t, ['restore', name, '--repo', 'clan', '--target', target]);
  expect(result.exitCode, result.stderr).toBe(0);
  return readFileSync(path.join(target, live, 'f'), 'utf8');
}

beforeEach(() => {
  t = makeRoot({ repositories: {} });
  backups = path.join(t.dir, 'backups');
  mkdirSync(backups);
  t.write('plugins/clanbk/create', CREATE, 0o755);
  t.write('plugins/clanbk/list', CLAN_LIST, 0o755);
  t.write('plugins/clanbk/restore', CLAN_RESTORE, 0o755);
  repository({ createWait: 0 });
});
afterEach(() => {
  // Releases every background create still waiting (it exits once the repository is gone).
  for (const file of gates.splice(0)) writeFileSync(file, '');
  t.cleanup();
});

describe('a late create of a script provider that prints no name', () => {
  it('blocks the next backup of the same module until its archive appears; then both are recorded as their own runs', async () => {
    const live = module('ma');
    const gate1 = newGate('1');
    gate('ma', gate1);
    writeFileSync(path.join(live, 'f'), 'v1-old\n');
    const first = await lifeboat(t, ['backup', 'ma']);
    expect(first.exitCode).toBe(1);
    expect(first.stderr).toContain('shows no new snapshot for module ma (waited 0s); the backup did not happen');
    const started = JSON.parse(readFileSync(path.join(t.stateDir, 'providers', 'clan', 'late-creates.json'), 'utf8'))[0].time as string;

    // the reviewer's order: the late archive would appear during the next create's wait
    repository({ createWait: 60 });
    gate('ma');
    writeFileSync(path.join(live, 'f'), 'v2-new\n');
    const blocked = await lifeboat(t, ['backup', 'ma']);
    expect(blocked.exitCode).toBe(1);
    expect(blocked.stderr).toContain(
      `repository "clan": the earlier create of module ma started ${started} has not shown its snapshot yet (that backup was reported failed; its script may still be writing it); a new snapshot could not be told apart from it, so the backup of module ma did not run`,
    );
    expect(blocked.stderr).toContain('`lifeboat snapshots ma --repo clan` records it for module ma), or after ');
    expect(blocked.stderr).toContain(`remove ${path.join(t.stateDir, 'providers', 'clan', 'late-creates.json')}`);
    expect(blocked.stdout).not.toContain('ok');
    // the create did not run: no second archive on its way
    expect(creates()).toEqual(['ma']);

    await openGateAndWait(gate1, 1);
    const [late] = archives();
    const third = await lifeboat(t, ['backup', 'ma']);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stderr).toContain(`snapshot ${late} appeared after Lifeboat stopped waiting for its create (module ma, started ${started}; that backup was reported failed); recorded as a snapshot of module ma from ${started}`);
    const [, own] = archives();
    expect(own).toBeDefined();
    expect(third.stdout).toContain(`backup ma: ok clan:${own}`);
    expect(await snapshotIds('ma')).toEqual([late, own]);
    expect(await restoredFile('ma', live)).toBe('v2-new\n');
    expect(existsSync(path.join(t.stateDir, 'providers', 'clan', 'late-creates.json')) ? JSON.parse(readFileSync(path.join(t.stateDir, 'providers', 'clan', 'late-creates.json'), 'utf8')) : []).toEqual([]);
  });

  it('a late archive that appears before the next backup is that run\'s; the next backup gets its own', async () => {
    const live = module('ma');
    const gate1 = newGate('1');
    gate('ma', gate1);
    writeFileSync(path.join(live, 'f'), 'v1-old\n');
    expect((await lifeboat(t, ['backup', 'ma'])).exitCode).toBe(1);
    await openGateAndWait(gate1, 1);
    const [late] = archives();
    repository({ createWait: 60 });
    gate('ma');
    writeFileSync(path.join(live, 'f'), 'v2-new\n');
    const second = await lifeboat(t, ['backup', 'ma']);
    expect(second.exitCode, second.stderr).toBe(0);
    const own = archives().find((name) => name !== late)!;
    expect(second.stdout).toContain(`backup ma: ok clan:${own}`);
    expect(await snapshotIds('ma')).toEqual([late, own]);
    expect(await restoredFile('ma', live)).toBe('v2-new\n');
  });

  it('blocks another module\'s backup in the same repository, naming the pending module; each keeps its own archive', async () => {
    const liveA = module('clana');
    const liveB = module('clanb');
    writeFileSync(path.join(liveA, 'f'), 'a\n');
    writeFileSync(path.join(liveB, 'f'), 'b\n');
    const gateA = newGate('a');
    gate('clana', gateA);
    gate('clanb');
    expect((await lifeboat(t, ['backup', 'clana'])).exitCode).toBe(1);
    repository({ createWait: 60 });
    const blocked = await lifeboat(t, ['backup', 'clanb']);
    expect(blocked.exitCode).toBe(1);
    expect(blocked.stderr).toMatch(/repository "clan": the create of module clana started \S+ has not shown its snapshot yet \(that backup was reported failed; its script may still be writing it\); a new snapshot could not be told apart from it, so the backup of module clanb did not run/);
    expect(creates()).toEqual(['clana']);

    await openGateAndWait(gateA, 1);
    const [archiveA] = archives();
    const b = await lifeboat(t, ['backup', 'clanb']);
    expect(b.exitCode, b.stderr).toBe(0);
    const archiveB = archives().find((name) => name !== archiveA)!;
    expect(b.stdout).toContain(`backup clanb: ok clan:${archiveB}`);
    expect(await snapshotIds('clana')).toEqual([archiveA]);
    expect(await snapshotIds('clanb')).toEqual([archiveB]);
    expect(await restoredFile('clanb', liveB)).toBe('b\n');
    expect(await restoredFile('clana', liveA)).toBe('a\n');
    const verify = await lifeboat(t, ['verify', 'clanb', '--repo', 'clan']);
    expect(verify.exitCode, verify.stderr).toBe(0);
  });

  it('the pending mark is bounded: past options.lateCreateLimit the late create is given up, and its archive is then no module\'s', async () => {
    repository({ createWait: 0, lateCreateLimit: 0 });
    const live = module('ma');
    const gate1 = newGate('1');
    gate('ma', gate1);
    writeFileSync(path.join(live, 'f'), 'v1-old\n');
    expect((await lifeboat(t, ['backup', 'ma'])).exitCode).toBe(1);
    repository({ createWait: 60, lateCreateLimit: 0 });
    gate('ma');
    writeFileSync(path.join(live, 'f'), 'v2-new\n');
    const second = await lifeboat(t, ['backup', 'ma']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/repository "clan": the create of module ma started \S+ never showed a snapshot; given up \(one that appears now is not attributed to any module\)/);
    const [own] = archives();
    expect(second.stdout).toContain(`backup ma: ok clan:${own}`);
    await openGateAndWait(gate1, 2);
    const late = archives().find((name) => name !== own)!;
    const listed = await lifeboat(t, ['snapshots', 'ma', '--repo', 'clan', '--json']);
    expect(JSON.parse(listed.stdout).map((s: { id: string }) => s.id)).toEqual([own]);
    expect(listed.stderr).toContain(`repository "clan": 1 snapshot(s) name no module and Lifeboat did not record them (${late})`);
    expect(await restoredFile('ma', live)).toBe('v2-new\n');
  });
});
