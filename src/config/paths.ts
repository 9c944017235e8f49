// Where the config root and the state dir are: flag, then environment, then the default for root or user.
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PathOptions {
  root?: string;
  stateDir?: string;
}

// Resolves the config root (README "How it works"): --root, LIFEBOAT_ROOT, /etc/lifeboat as root, else XDG config.
export function resolveRoot(options: PathOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (options.root) return path.resolve(options.root);
  if (env.LIFEBOAT_ROOT) return path.resolve(env.LIFEBOAT_ROOT);
  if (process.getuid?.() === 0) return '/etc/lifeboat';
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'lifeboat');
}

// Resolves the state dir (README "How it works"): --state-dir, LIFEBOAT_STATE_DIR, /var/lib/lifeboat as root, else XDG state.
export function resolveStateDir(options: PathOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (options.stateDir) return path.resolve(options.stateDir);
  if (env.LIFEBOAT_STATE_DIR) return path.resolve(env.LIFEBOAT_STATE_DIR);
  if (process.getuid?.() === 0) return '/var/lib/lifeboat';
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'lifeboat');
}

// The project's own install directory (hooks.d/, plugins/, schemas): the nearest folder up with package.json.
export const PROJECT_DIR = findProjectDir(path.dirname(fileURLToPath(import.meta.url)));

function findProjectDir(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

// The JSON Schemas, used by ajv and shipped for editors ($schema).
export const SCHEMA_DIR = path.join(PROJECT_DIR, 'src', 'config', 'schema');

// Layout of the state dir, in one place so every command agrees.
export function stateLayout(stateDir: string) {
  return {
    locks: path.join(stateDir, 'locks'),
    journal: path.join(stateDir, 'journal.jsonl'),
    runs: path.join(stateDir, 'runs'),
    moduleState: (module: string) => path.join(stateDir, 'modules', module, 'state'),
    repositories: path.join(stateDir, 'repositories'),
  };
}

export const MODULE_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
