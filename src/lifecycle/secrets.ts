// Every secret a run can meet, registered with the masker before its first part runs: the environment
// files, each repository's `env`, password file contents, `passwordCommand` output and URL credentials,
// and the modules' database password files. Providers and engines read these again later; a pre-backup
// part that prints one is masked all the same.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { shellOutput } from '../process/runner.js';

// How long a passwordCommand may take here (the provider runs it again for its own use).
const PASSWORD_COMMAND_TIMEOUT_MS = 30_000;

// Outputs of passwordCommands already run by this process (parallel modules share repositories).
const commandOutputs = new Map<string, Promise<string[]>>();

// Adds every secret of the module's run (its repositories: `repositories`, else the module's) to log's masker.
export async function registerRunSecrets(root: RootConfig, module: ModuleConfig, repositories: string[] | undefined, log: Logger): Promise<void> {
  const add = (...values: Array<string | undefined>) => log.masker.add(...values);
  log.masker.addEnv(root.rootEnv, module.env);
  for (const name of repositories ?? module.repositories) {
    const repository = root.global.repositories[name];
    if (!repository) continue;
    const env = { ...root.rootEnv, ...repository.env };
    add(...Object.values(repository.env ?? {}));
    add(...urlPasswords(repository.url));
    if (repository.passwordFile) add(...fileSecret(path.resolve(root.root, repository.passwordFile)));
    if (repository.passwordCommand) {
      const key = `${repository.passwordCommand}\0${JSON.stringify(env)}`;
      if (!commandOutputs.has(key)) commandOutputs.set(key, commandOutput(repository.passwordCommand, env, `repository "${name}"`, log));
      add(...(await commandOutputs.get(key)!));
    }
  }
  for (const entry of module.databases) {
    const db = Object.values(entry)[0] as { passwordFile?: string; passwordEnv?: string; url?: string };
    if (db.passwordFile) add(...fileSecret(path.resolve(root.root, db.passwordFile)), ...fileSecret(db.passwordFile));
    if (db.passwordEnv) add(module.env[db.passwordEnv] ?? root.rootEnv[db.passwordEnv] ?? process.env[db.passwordEnv]);
    add(...urlPasswords(db.url));
  }
}

// A password file's content as providers read it (whole, without the final newline, trimmed); [] when unreadable.
function fileSecret(file: string): string[] {
  try {
    const text = readFileSync(file, 'utf8');
    return [text, text.replace(/\r?\n$/, ''), text.replace(/\n+$/, ''), text.trim()];
  } catch {
    return [];
  }
}

// The password in a URL (scheme://user:password@host), raw and decoded.
function urlPasswords(url: string | undefined): string[] {
  const match = url ? /\/\/[^/:@]*:([^@/]+)@/.exec(url) : null;
  if (!match) return [];
  try {
    return [match[1], decodeURIComponent(match[1])];
  } catch {
    return [match[1]];
  }
}

// What a passwordCommand prints: all of it trimmed, and its first line; [] when it fails.
async function commandOutput(command: string, env: Record<string, string>, where: string, log: Logger): Promise<string[]> {
  try {
    const out = await shellOutput(command, { ...process.env, ...env }, PASSWORD_COMMAND_TIMEOUT_MS);
    return [out.trim(), out.replace(/\r?\n[\s\S]*$/, '')];
  } catch (error) {
    log.debug(`${where}: passwordCommand failed before the run (${(error as Error).message.split('\n')[0]}); the provider will report it`);
    return [];
  }
}
