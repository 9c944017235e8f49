// One result line of `check` (and of `backup --dry-run`'s preflight): how bad, what it is about, the fix.
export type Level = 'ok' | 'warn' | 'fail';

export interface Finding {
  level: Level;
  // The file, key or thing the finding is about (a path, `repository local`, `module web`).
  subject: string;
  // What is wrong and how to fix it (or, for ok, what was checked).
  message: string;
}

// Shorthands that keep the checks readable.
export const ok = (subject: string, message: string): Finding => ({ level: 'ok', subject, message });
export const warn = (subject: string, message: string): Finding => ({ level: 'warn', subject, message });
export const fail = (subject: string, message: string): Finding => ({ level: 'fail', subject, message });
