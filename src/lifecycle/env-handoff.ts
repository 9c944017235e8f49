// LIFEBOAT_ENV_FILE: a part appends KEY=VALUE lines; later parts of the same run see them.
import { readFileSync, writeFileSync } from 'node:fs';
import dotenv from 'dotenv';

// Creates the empty hand-off file (0600) for a run.
export function createHandoffFile(file: string): void {
  writeFileSync(file, '', { mode: 0o600 });
}

// Reads what parts have appended so far; a missing or unreadable file adds nothing.
export function readHandoff(file: string): Record<string, string> {
  try {
    return dotenv.parse(readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}
