// What the built-in providers share (ARCHITECTURE.md "Providers"): where a repository's password comes
// from, a tool's failure shaped into a LifeboatError with its fix, and "the module's repository is not
// created yet". The tar provider's age keys read their passwordFile here too (plugins/tar/age.ts).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../errors.js';
import type { ProviderInput } from './types.js';

// A repository's password source (README "Repositories"): passwordFile wins over passwordCommand; `none`
// leaves the tool's own environment variables (RESTIC_PASSWORD, BORG_PASSPHRASE) to the repository's env.
export type PasswordSource = { kind: 'file'; file: string } | { kind: 'command'; command: string } | { kind: 'none' };

export function passwordSource(input: Pick<ProviderInput, 'config' | 'root'>): PasswordSource {
  const { config } = input;
  if (config.passwordFile) return { kind: 'file', file: path.resolve(input.root.root, config.passwordFile) };
  if (config.passwordCommand) return { kind: 'command', command: config.passwordCommand };
  return { kind: 'none' };
}

// The fix for a passwordFile that cannot be read.
function passwordFileHint(file: string): string {
  return `create it, e.g. \`openssl rand -base64 32 > ${file} && chmod 600 ${file}\``;
}

// Reads a repository's passwordFile whole; a file that cannot be read is CONFIG_INVALID naming the
// repository and the file, with the command that makes one.
export function readPasswordFile(input: Pick<ProviderInput, 'name'>, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new LifeboatError('CONFIG_INVALID', `repository "${input.name}": cannot read passwordFile ${file}: ${(error as Error).message}`, {
      hint: passwordFileHint(file),
      cause: error,
    });
  }
}

// The same, without blocking (the tar provider reads it while archives stream); `fail` shapes the error
// (age.ts names the repository by its place in lifeboat.yaml).
export async function readPasswordFileAsync(file: string, fail: (reason: string, hint: string, cause: unknown) => Error): Promise<string> {
  return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw fail(`passwordFile ${file} cannot be read (${error.code ?? error.message})`, `${passwordFileHint(file)}, or fix passwordFile`, error);
  });
}

// A repository with no password source at all: `tool` names the provider, `word` what it calls the
// secret, `envName` the variable its env may hold instead.
export function missingPassword(input: Pick<ProviderInput, 'name'>, tool: string, word: 'password' | 'passphrase', envName: string): LifeboatError {
  return new LifeboatError('CONFIG_INVALID', `repository "${input.name}" (${tool}) has no ${word}`, {
    hint: `set passwordFile: /etc/lifeboat/${tool}.pass (or passwordCommand:) on repository "${input.name}" in lifeboat.yaml, or ${envName} in its env`,
  });
}

// A failed tool call as PROVIDER: `<where>: <command> failed[ (exit N)]: <reason>`, masked (a tool may
// echo a URL with its credentials), with the fix: the first of `hints` whose pattern the tool's output
// matches (a wrong password), else `otherwise` (the repository's reach).
export function toolFailure(failure: {
  where: string;
  command: string;
  exitCode?: number | null;
  reason: string;
  stderr: string;
  hints: Array<[RegExp, string]>;
  otherwise: string;
  mask: (text: string) => string;
}): LifeboatError {
  const exit = failure.exitCode === undefined ? '' : ` (exit ${failure.exitCode})`;
  return new LifeboatError('PROVIDER', failure.mask(`${failure.where}: ${failure.command} failed${exit}: ${failure.reason}`), {
    hint: failure.hints.find(([pattern]) => pattern.test(failure.stderr))?.[1] ?? failure.otherwise,
  });
}

// The fix for a backup that could not read some files (its incomplete snapshot is removed).
export const UNREADABLE_FILES_HINT = 'fix the permissions or exclude those paths (exclude: in module.yaml), then back up again';

// An operation that needs the module's repository (check, a drill) before any backup created it.
export function notCreatedYet(where: string, module: string, what = 'does not exist yet'): LifeboatError {
  return new LifeboatError('PROVIDER', `${where} ${what}`, { hint: `run \`lifeboat backup ${module}\` first` });
}
