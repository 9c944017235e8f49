// A temporary Lifeboat root and state dir for tests, and a way to run the real CLI (bin/lifeboat) on it.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';

export const PROJECT = path.resolve(new URL('../..', import.meta.url).pathname);
export const BIN = path.join(PROJECT, 'bin', 'lifeboat');
export const COPY_PROVIDER = path.join(PROJECT, 'test', 'fixtures', 'providers', 'copy');

export interface TestRoot {
  dir: string;
  root: string;
  stateDir: string;
  // Writes a file under the root (mode defaults to 0600, or 0755 for parts).
  write(relative: string, content: string, mode?: number): string;
  // Writes modules/<name>/module.yaml from an object.
  module(name: string, config: Record<string, unknown>): string;
  // Adds an executable part: modules/<m>/hooks.d/<phase>/<name> (module given) or hooks.d/<phase>/<name>.
  part(phase: string, name: string, script: string, module?: string): string;
  // A module backing up one folder of its own, <dir>/data/<name>, that holds one file (`file.txt` with
  // "<name>\n" unless given): writes module.yaml as { folders: [that folder], ...extra }; returns the folder.
  dataModule(name: string, extra?: Record<string, unknown>, file?: { name: string; content: string } | null): string;
  cleanup(): void;
}

// Makes a root with lifeboat.yaml (default: one `local` repository using the copy test provider).
export function makeRoot(global?: Record<string, unknown>): TestRoot {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-test-'));
  chmodSync(dir, 0o755);
  const root = path.join(dir, 'root');
  const stateDir = path.join(dir, 'state');
  mkdirSync(path.join(root, 'modules'), { recursive: true });
  const write = (relative: string, content: string, mode = 0o600) => {
    const file = path.join(root, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    chmodSync(file, mode);
    return file;
  };
  const config = global ?? { repositories: { local: { provider: 'copy', url: path.join(dir, 'repo') } } };
  write('lifeboat.yaml', stringify(config));
  if (!global) {
    mkdirSync(path.join(root, 'plugins'), { recursive: true });
    execaSyncCopy(COPY_PROVIDER, path.join(root, 'plugins', 'copy'));
  }
  return {
    dir,
    root,
    stateDir,
    write,
    module: (name, moduleConfig) => write(`modules/${name}/module.yaml`, stringify(moduleConfig)),
    part: (phase, name, script, module) => write(module ? `modules/${module}/hooks.d/${phase}/${name}` : `hooks.d/${phase}/${name}`, script, 0o755),
    dataModule: (name, extra = {}, file = { name: 'file.txt', content: `${name}\n` }) => {
      const data = path.join(dir, 'data', name);
      mkdirSync(data, { recursive: true });
      if (file) writeFileSync(path.join(data, file.name), file.content);
      write(`modules/${name}/module.yaml`, stringify({ folders: [data], ...extra }));
      return data;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// Copies a fixture folder keeping modes (cp -a), synchronously.
function execaSyncCopy(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  rmSync(to, { recursive: true, force: true });
  execaSync('cp', ['-a', from, to]);
}

import { execaSync } from 'execa';

// Runs `lifeboat --root R --state-dir S ARGS...`; never throws on a non-zero exit.
export function lifeboat(t: Pick<TestRoot, 'root' | 'stateDir'>, args: string[], options: { env?: Record<string, string>; input?: string } = {}): ResultPromise<{ reject: false }> {
  return execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, ...args], {
    reject: false,
    // A test that signals lifeboat waits for it to finish its always-phases, however loaded the machine.
    forceKillAfterDelay: false,
    env: { ...options.env },
    input: options.input ?? '',
  }) as unknown as ResultPromise<{ reject: false }>;
}
