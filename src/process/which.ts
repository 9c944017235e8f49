// Finds an executable on PATH without starting a shell (for check and provider defaults).
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

// A tool a provider or engine runs, as `check` looks for it; `package` is the Debian package that installs
// it, when its name differs from the tool's.
export interface ToolNeed {
  tool: string;
  package?: string;
}

// Returns the full path of a command, or undefined when it is not installed.
export function which(command: string, envPath = process.env.PATH ?? ''): string | undefined {
  if (command.includes('/')) return isExecutable(command) ? command : undefined;
  for (const dir of envPath.split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
