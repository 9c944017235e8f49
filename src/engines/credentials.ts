// Database passwords: read from `passwordFile` or the variable named by `passwordEnv` (the part environment,
// env files included), registered with the masker at once, and handed to clients only through the
// environment or a file descriptor.
import { readFileSync } from 'node:fs';
import { LifeboatError } from '../errors.js';
import type { EngineContext } from './types.js';

export interface PasswordSource {
  passwordFile?: string;
  passwordEnv?: string;
}

// The configured password, or undefined when none is configured (trust, peer, socket auth).
export function readPassword(source: PasswordSource, label: string, ctx: EngineContext): string | undefined {
  let password: string | undefined;
  if (source.passwordFile) {
    try {
      password = readFileSync(source.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new LifeboatError('DATABASE', `${label}: cannot read passwordFile ${source.passwordFile}: ${(error as Error).message}`, {
        hint: `create it (one line, chmod 600) or remove passwordFile`,
        cause: error,
      });
    }
  } else if (source.passwordEnv) {
    password = ctx.env[source.passwordEnv];
    if (password === undefined) {
      throw new LifeboatError('DATABASE', `${label}: passwordEnv ${source.passwordEnv} is not set`, {
        hint: `set ${source.passwordEnv} in the module's environment file, or use passwordFile`,
      });
    }
  }
  if (password !== undefined) ctx.log.masker.add(password);
  return password;
}

// Quotes a value for a MySQL option file (`password="..."`): backslash and double quote escaped.
export function optionFileValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}
