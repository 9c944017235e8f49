// Fault injection for the reliability suite: shell snippets that fail, hang or go slow on demand, a script
// provider wrapping the copy provider with such switches, and readers for the journal and whole trees.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, lstatSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeTree } from './fs-state.js';

// What a switch file in the fault dir makes a step do.
export type FaultKind = 'fail' | 'hang' | 'slow';

// A shell snippet for step NAME: exits 7 when FAULTS/NAME.fail exists; when NAME.hang exists, touches
// FAULTS/started and sleeps 60 s (exec: nothing outlives the kill); NAME.slow: touches it and sleeps 1 s.
export function faultSnippet(faultDir: string, name: string): string {
  const f = (suffix: string) => `"${path.join(faultDir, `${name}.${suffix}`)}"`;
  const started = `"${path.join(faultDir, 'started')}"`;
  return [
    `if [ -e ${f('fail')} ]; then echo "injected failure in ${name}" >&2; exit 7; fi`,
    `if [ -e ${f('hang')} ]; then touch ${started}; exec sleep 60; fi`,
    `if [ -e ${f('slow')} ]; then touch ${started}; sleep 1; fi`,
  ].join('\n');
}

// Arms one fault: the next time step NAME runs it fails, hangs or goes slow.
export function armFault(faultDir: string, name: string, kind: FaultKind): void {
  mkdirSync(faultDir, { recursive: true });
  writeFileSync(path.join(faultDir, `${name}.${kind}`), '');
}

// Installs plugins/faulty/ in the root: create, list and restore that run the fault switches
// provider-create, provider-list and provider-restore, then the copy provider's script.
export function installFaultyProvider(root: string, faultDir: string): void {
  const dir = path.join(root, 'plugins', 'faulty');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const op of ['create', 'list', 'restore']) {
    const file = path.join(dir, op);
    writeFileSync(file, `#!/bin/sh\n${faultSnippet(faultDir, `provider-${op}`)}\nexec "${path.join(root, 'plugins', 'copy', op)}"\n`);
    chmodSync(file, 0o755);
  }
}

// Every record of the run journal (empty when there is none).
export function journalRecords(stateDir: string): Array<Record<string, unknown>> {
  const file = path.join(stateDir, 'journal.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

// Polls until a file exists (a part or fault says it started); throws after `ms`.
export async function waitForFile(file: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// The exact state of several trees (missing ones are recorded as missing), to compare before and after.
export function treesOf(dirs: Record<string, string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [label, dir] of Object.entries(dirs)) out[label] = existsSync(dir) ? describeTree(dir) : ['(missing)'];
  return out;
}

// Every file and directory under dir with its permission bits, for mode audits.
export function modesUnder(dir: string): Array<{ path: string; type: 'dir' | 'file' | 'symlink' | 'other'; mode: number }> {
  const out: Array<{ path: string; type: 'dir' | 'file' | 'symlink' | 'other'; mode: number }> = [];
  const walk = (current: string) => {
    const st = lstatSync(current);
    const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    out.push({ path: current, type, mode: st.mode & 0o7777 });
    if (type === 'dir') for (const name of readdirSync(current)) walk(path.join(current, name));
  };
  if (existsSync(dir)) walk(dir);
  return out;
}
