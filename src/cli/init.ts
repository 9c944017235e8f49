// `lifeboat init`: a working root with a local repository under the state dir and an example module.
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync as writeNew } from 'node:fs';
import { renderReference } from '../config/example.js';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SCHEMA_DIR, resolveRoot, resolveStateDir, stateLayout } from '../config/paths.js';
import { LifeboatError } from '../errors.js';
import { createLogger, type GlobalOptions } from './common.js';
import { which } from '../process/which.js';

interface InitOptions extends GlobalOptions {
  force?: boolean;
  // Appends the commented reference of every key (generated from the schemas) to both files.
  example?: boolean;
}

// Writes lifeboat.yaml, a password file, modules/example/ and its data; refuses a non-empty root.
export async function initCommand(_args: unknown[], options: InitOptions): Promise<number> {
  const log = createLogger(options);
  const root = resolveRoot(options);
  const stateDir = resolveStateDir(options);
  if (existsSync(root) && readdirSync(root).length > 0 && !options.force) {
    throw new LifeboatError('USAGE', `${root} is not empty; init writes a new root`, { hint: 'choose another --root, or pass --force to add the example files that are missing (existing files are kept)' });
  }
  // --force adds what is missing and never overwrites: a new password file would strand every snapshot.
  const kept: string[] = [];
  const writeFileSync = (file: string, content: string | Buffer, options: { mode: number }) => {
    if (existsSync(file)) {
      kept.push(file);
      return;
    }
    writeNew(file, content, options);
  };
  const repoDir = path.join(stateLayout(stateDir).repositories, 'local');
  const dataDir = path.join(stateDir, 'example', 'data');
  const useRestic = which('restic') !== undefined;
  mkdirSync(path.join(root, 'modules', 'example', 'hooks.d', 'pre-backup'), { recursive: true, mode: 0o700 });
  mkdirSync(path.join(root, 'hooks.d'), { recursive: true, mode: 0o700 });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const passwordFile = path.join(root, 'repository.pass');
  writeFileSync(passwordFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  const repository = useRestic
    ? `  local:\n    provider: restic\n    url: ${repoDir}\n    passwordFile: ${passwordFile}\n`
    : `  local:\n    provider: tar\n    url: ${repoDir}\n    compression: ${which('zstd') ? 'zstd' : 'gzip'}\n`;
  writeFileSync(
    path.join(root, 'lifeboat.yaml'),
    `# yaml-language-server: $schema=${path.join(SCHEMA_DIR, 'lifeboat.schema.json')}\n` +
      `repositories:\n${repository}defaults:\n  schedule: "0 3 * * *"\n  retention: { keepLast: 7, keepDaily: 7 }\n`,
    { mode: 0o600 },
  );
  writeFileSync(path.join(root, 'environment'), '# KEY=VALUE lines for every module; values are secrets and are masked in logs\n', { mode: 0o600 });

  const moduleDir = path.join(root, 'modules', 'example');
  writeFileSync(
    path.join(moduleDir, 'module.yaml'),
    `# The example module: one folder, an environment file, and a part of its own.\nfolders: [${dataDir}]\nexclude: ["*.tmp"]\nretention: { keepLast: 5 }\n`,
    { mode: 0o600 },
  );
  writeFileSync(path.join(moduleDir, 'environment'), `EXAMPLE_TOKEN=${randomBytes(12).toString('hex')}\n`, { mode: 0o600 });
  writeFileSync(
    path.join(moduleDir, 'hooks.d', 'pre-backup', '40note'),
    '#!/bin/sh\n# A part of the example module: runs after the built-in 30module_dump_state, before the snapshot.\n' +
      'date -u +%FT%TZ > "$LIFEBOAT_STATE_DIR/last-backup-started"\necho "example part: noted the time in $LIFEBOAT_STATE_DIR"\n',
    { mode: 0o700 },
  );
  writeFileSync(path.join(dataDir, 'notes.txt'), 'Lifeboat example data.\n', { mode: 0o600 });
  mkdirSync(path.join(dataDir, 'photos'), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dataDir, 'photos', 'pixel.bin'), randomBytes(4096), { mode: 0o600 });
  if (options.example) {
    if (!kept.includes(path.join(root, 'lifeboat.yaml'))) appendFileSync(path.join(root, 'lifeboat.yaml'), `\n${renderReference('lifeboat')}`);
    if (!kept.includes(path.join(moduleDir, 'module.yaml'))) appendFileSync(path.join(moduleDir, 'module.yaml'), `\n${renderReference('module')}`);
  }
  if (kept.length) log.warn(`kept what was there (--force never overwrites): ${kept.join(', ')}`);
  log.info(`created ${root} (repository "local": ${useRestic ? 'restic' : 'tar'} at ${repoDir}; module "example" backs up ${dataDir})`);
  log.info(`next: lifeboat --root ${root} --state-dir ${stateDir} plan example`);
  return 0;
}
