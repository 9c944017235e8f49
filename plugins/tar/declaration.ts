// The tar provider's declaration (ARCHITECTURE.md "Providers"): read by the registry and `check`
// without loading the provider.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { RepositoryConfig } from '../../src/config/types.js';
import type { ProviderDeclaration, SettingsFinding } from '../../src/providers/types.js';

export const declaration: ProviderDeclaration = {
  kind: 'tar',
  capabilities: { forget: true, check: true },
  restoresIntoTarget: true,
  // zstd compresses in its own process; gzip and none need no tool.
  tools: (config) => ((config.compression ?? 'zstd') === 'zstd' ? [{ tool: 'zstd' }] : []),
  checkSettings: (name, config, rootDir) => [...plaintextUpload(name, config), ...keyFileFindings(name, config, rootDir)],
};

// Archives uploaded without encryption: anyone who reads the bucket reads the backups.
function plaintextUpload(name: string, config: RepositoryConfig): SettingsFinding[] {
  if (!config.upload || config.encryption !== 'none') return [];
  return [{ level: 'warn', subject: `repository ${name}`, message: `uploads unencrypted archives to ${config.upload} (encryption: none); anyone who can read the bucket reads the backups: set passwordFile or recipients (README "The tar provider")` }];
}

// Key files (passwordFile, identityFile) that others can read (a warning) or write (an error).
function keyFileFindings(name: string, config: RepositoryConfig, rootDir: string): SettingsFinding[] {
  const findings: SettingsFinding[] = [];
  for (const key of ['passwordFile', 'identityFile'] as const) {
    const value = config[key];
    if (typeof value !== 'string') continue;
    const file = path.resolve(rootDir, value);
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch {
      continue;
    }
    const octal = mode.toString(8).padStart(4, '0');
    const who = (bits: number) => [mode & (bits << 3) ? 'its group' : '', mode & bits ? 'others' : ''].filter(Boolean).join(' and ');
    if (mode & 0o022) findings.push({ level: 'fail', subject: `repository ${name}`, message: `${key} ${file} is writable by ${who(0o002)} (mode ${octal}): they can change the key; chmod 600 ${file}` });
    else if (mode & 0o044) findings.push({ level: 'warn', subject: `repository ${name}`, message: `${key} ${file} is readable by ${who(0o004)} (mode ${octal}): they can read every backup; chmod 600 ${file}` });
  }
  return findings;
}
