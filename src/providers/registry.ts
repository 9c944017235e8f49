// Finds the provider of a repository: plugins/<kind>/ in the root, then the project's built-ins (compiled
// to dist/plugins/<kind>/index.js), then script providers in the project's plugins/.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LifeboatError } from '../errors.js';
import { PROJECT_DIR } from '../config/paths.js';
import type { RootConfig } from '../config/types.js';
import { unsafeReason } from '../files/permissions.js';
import { createScriptProvider, SCRIPT_OPERATIONS } from './script.js';
import { adaptJsPlugin } from './js-plugin.js';
import { withSnapshotKinds } from './kinds.js';
import type { Provider, ProviderDeclaration, ProviderInput } from './types.js';
import { declaration as restic } from '../../plugins/restic/declaration.js';
import { declaration as borg } from '../../plugins/borg/declaration.js';
import { declaration as tar } from '../../plugins/tar/declaration.js';

const cache = new Map<string, Provider>();

// The built-in providers: one line each, its declaration (plugins/<kind>/declaration.ts: capabilities, the
// tools `check` looks for, its settings checks) and its code in a literal import(): from the tsc build it
// loads dist/plugins/<kind>/index.js; in the CLI bundle (scripts/bundle.mjs) it is a chunk of it and
// shares its modules (one LifeboatError class, one logger), instead of a second copy of dist/src/.
const BUILTIN: Record<string, { declaration: ProviderDeclaration; load: () => Promise<Record<string, unknown>> }> = {
  restic: { declaration: restic, load: () => import('../../plugins/restic/index.js') },
  borg: { declaration: borg, load: () => import('../../plugins/borg/index.js') },
  tar: { declaration: tar, load: () => import('../../plugins/tar/index.js') },
};

// The declaration of a built-in provider kind; undefined for script and root plugins.
export function builtinProvider(kind: string): ProviderDeclaration | undefined {
  return Object.hasOwn(BUILTIN, kind) ? BUILTIN[kind].declaration : undefined;
}

// The built-in kinds, for messages: "restic, borg or tar".
function builtinKinds(): string {
  const kinds = Object.keys(BUILTIN);
  return kinds.length > 1 ? `${kinds.slice(0, -1).join(', ')} or ${kinds.at(-1)}` : kinds.join('');
}

// Opens the provider of a named repository (cached per process); every snapshot it lists or creates
// carries its kind (kinds.ts).
export async function openProvider(name: string, root: RootConfig, addSecret: ProviderInput['addSecret']): Promise<Provider> {
  const cached = cache.get(`${root.root}\0${name}`);
  if (cached) return cached;
  const config = root.global.repositories[name];
  if (!config) {
    const known = Object.keys(root.global.repositories);
    throw new LifeboatError('UNKNOWN_REPOSITORY', `repository "${name}" is not defined in lifeboat.yaml` + (known.length ? `; defined: ${known.join(', ')}` : '; no repositories are defined'));
  }
  const input: ProviderInput = { name, config, root, addSecret };
  addSecret(...Object.values(config.env ?? {}));
  const provider = withSnapshotKinds(await loadProvider(config.provider, input));
  cache.set(`${root.root}\0${name}`, provider);
  return provider;
}

// Candidate plugin folders for a provider kind, in lookup order.
export function pluginDirs(kind: string, root: RootConfig): Array<{ dir: string; trusted: boolean }> {
  return [
    { dir: path.join(root.root, 'plugins', kind), trusted: false },
    { dir: path.join(PROJECT_DIR, 'dist', 'plugins', kind), trusted: true },
    { dir: path.join(PROJECT_DIR, 'plugins', kind), trusted: true },
  ];
}

// Loads a JS plugin (index.js) or adapts a folder of scripts.
async function loadProvider(kind: string, input: ProviderInput): Promise<Provider> {
  for (const { dir, trusted } of pluginDirs(kind, input.root)) {
    if (!existsSync(dir)) continue;
    if (!trusted) assertSafePlugin(dir);
    const index = path.join(dir, 'index.js');
    if (existsSync(index)) {
      const builtin = trusted && Object.hasOwn(BUILTIN, kind) && dir === path.join(PROJECT_DIR, 'dist', 'plugins', kind);
      const loaded = builtin ? await BUILTIN[kind].load() : ((await import(pathToFileURL(index).href)) as Record<string, unknown>);
      return adaptJsPlugin(kind, loaded, input, index);
    }
    if (existsSync(path.join(dir, 'create'))) return createScriptProvider(kind, dir, input);
  }
  throw new LifeboatError('UNKNOWN_REPOSITORY', `repository "${input.name}": provider "${kind}" not found`, {
    hint: `use ${builtinKinds()}, or create ${path.join(input.root.root, 'plugins', kind)}/ with executables ${SCRIPT_OPERATIONS.join(', ')}`,
  });
}

// Refuses plugin folders and files that others could have written (README "How it works").
function assertSafePlugin(dir: string): void {
  const problems: string[] = [];
  for (const file of [dir, ...['index.js', ...SCRIPT_OPERATIONS, 'forget', 'check', 'init'].map((name) => path.join(dir, name))]) {
    if (!existsSync(file)) continue;
    const reason = unsafeReason(statSync(file));
    if (reason) problems.push(`${file}: refused: ${reason}; fix with chmod go-w or chown root`);
  }
  if (problems.length) throw new LifeboatError('UNSAFE_PERMISSIONS', problems.join('\n'), { problems });
}
