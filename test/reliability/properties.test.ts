// Property-based tests (fast-check): generated inputs against the rules Lifeboat must keep.
// - part names: selection and order equal the real /usr/bin/run-parts, in run-parts' own names.ts and in
//   the lifecycle's discovery of a hook directory;
// - environment files: values written the way a person (or a tool) quotes them read back unchanged, every
//   assignment the line check accepts reaches the result, and any text gives a value or ENV_SYNTAX;
// - configuration: any document, any YAML text, any environment file gives a config or a LifeboatError.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { selectNames, sortNames } from '../../src/parts/names.js';
import { discoverPhase } from '../../src/parts/discover.js';
import { parseEnvText } from '../../src/config/env-file.js';
import { loadModules, loadRoot } from '../../src/config/load.js';
import { LifeboatError } from '../../src/errors.js';

const RUNS = Number(process.env.LIFEBOAT_PROPERTY_RUNS ?? 150);
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-prop-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// A fresh empty directory under the scratch dir.
let counter = 0;
function freshDir(): string {
  const dir = path.join(scratch, String(counter++));
  mkdirSync(dir, { recursive: true });
  return dir;
}

// File names run-parts has opinions about: its classes, the LSB suffixes, dots, spaces, unicode.
const nameChar = fc.constantFrom(...'aAzZ09_-.~ +é日'.split(''), 'b', 'x', '1', '2');
const partName = fc.oneof(
  fc.array(nameChar, { minLength: 1, maxLength: 10 }).map((chars) => chars.join('')),
  fc.constantFrom('10x', '2b', '25x', 'x.dpkg-old', 'a-b.dpkg-new', '_a-b', 'abc-def', 'Abc', '-', '--x', 'x~', '.hidden', 'z.sh'),
);
const partNames = fc.uniqueArray(partName, { minLength: 1, maxLength: 12 }).filter((names) => names.every((n) => n !== '.' && n !== '..'));

// Writes an executable `#!/bin/sh` file per name.
function writeParts(dir: string, names: string[]): void {
  for (const name of names) {
    writeFileSync(path.join(dir, name), '#!/bin/sh\nexit 0\n');
    chmodSync(path.join(dir, name), 0o755);
  }
}

// What /usr/bin/run-parts --list prints, as base names.
function realRunParts(dir: string, flags: string[] = []): string[] {
  const out = execFileSync('/usr/bin/run-parts', [...flags, '--list', dir], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((line) => path.basename(line));
}

describe('part names against the real run-parts', () => {
  it('selection and byte order (names.ts)', () => {
    fc.assert(
      fc.property(partNames, (names) => {
        const dir = freshDir();
        writeParts(dir, names);
        const entries = readdirSync(dir);
        expect(sortNames(selectNames(entries))).toEqual(realRunParts(dir));
        expect(sortNames(selectNames(entries, { lsbsysinit: true }))).toEqual(realRunParts(dir, ['--lsbsysinit']));
      }),
      { numRuns: RUNS },
    );
  });

  it("the lifecycle's discovery of a hook directory runs the same parts in the same order", () => {
    fc.assert(
      fc.property(partNames, (names) => {
        const root = freshDir();
        const dir = path.join(root, 'hooks.d', 'on-success');
        mkdirSync(dir, { recursive: true });
        writeParts(dir, names);
        const found = discoverPhase('on-success', { root }, []).filter((entry) => entry.status === 'run').map((entry) => entry.name);
        expect(found).toEqual(realRunParts(dir));
      }),
      { numRuns: RUNS },
    );
  });
});

// Environment values as people write them: printable text with quotes, #, =, $, backslashes, spaces, unicode.
const envKey = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/);
const envValue = fc.string({ unit: fc.constantFrom(...'aZ09 _-=#$\'"`\\{}:/.,;!?~é€'.split(''), 'x', 'y'), maxLength: 24 });
const multiLine = fc.array(envValue, { minLength: 2, maxLength: 3 }).map((lines) => lines.join('\n'));

// Quotes a value so dotenv reads it back as is, or undefined when no quoting can (then the case is skipped).
function quote(value: string): string | undefined {
  // a backslash before the closing quote is ambiguous in dotenv, and refused by Lifeboat
  if (value.endsWith('\\')) return undefined;
  if (!value.includes("'") && !value.includes('\n')) return `'${value}'`;
  // in double quotes dotenv turns \n into a newline and a backslash can escape the closing quote
  if (!value.includes('"') && !value.includes('\\')) return `"${value}"`;
  if (!value.includes('`')) return `\`${value}\``;
  return undefined;
}

describe('environment files (parseEnvText)', () => {
  it('quoted values round-trip exactly, on one line or several', () => {
    fc.assert(
      fc.property(fc.dictionary(envKey, fc.oneof(envValue, multiLine), { minKeys: 1, maxKeys: 6 }), fc.boolean(), (record, exported) => {
        const lines = Object.entries(record).map(([key, value]) => [key, quote(value)] as const);
        fc.pre(lines.every(([, quoted]) => quoted !== undefined));
        const text = lines.map(([key, quoted]) => `${exported ? 'export ' : ''}${key}=${quoted}`).join('\n') + '\n';
        expect(parseEnvText(text, 'environment')).toEqual(record);
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('plain values (no quotes, no #, no surrounding spaces) round-trip unquoted', () => {
    const plain = fc.string({ unit: fc.constantFrom(...'aZ09_-=$:/.,;!?~é€{}'.split('')), minLength: 1, maxLength: 24 });
    fc.assert(
      fc.property(fc.dictionary(envKey, plain, { minKeys: 1, maxKeys: 6 }), (record) => {
        const text = Object.entries(record).map(([key, value]) => `${key}=${value}`).join('\n');
        expect(parseEnvText(text, 'environment')).toEqual(record);
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('every assignment the line check accepts reaches the result (nothing is dropped silently)', () => {
    const piece = fc.constantFrom('A', 'KEY', '=', ' ', '"', "'", '`', '#', 'x', '\\', 'export ', '\n', '$', '=x', ' # c', "\\'", '\\"', '=\'', '="');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (pieces) => {
        const text = pieces.join('');
        let parsed: Record<string, string>;
        try {
          parsed = parseEnvText(text, 'environment');
        } catch (error) {
          expect(error).toBeInstanceOf(LifeboatError);
          expect((error as LifeboatError).code).toBe('ENV_SYNTAX');
          expect((error as LifeboatError).message).toMatch(/^environment:\d+: /);
          return;
        }
        // Keys of the lines that start an assignment outside a quoted value.
        const keys = assignedKeys(text);
        for (const key of keys) expect(parsed, `${JSON.stringify(text)} lost ${key}`).toHaveProperty(key);
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('any text gives values or ENV_SYNTAX naming the file, never another error', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        try {
          parseEnvText(text, 'modules/m/environment');
        } catch (error) {
          expect(error).toBeInstanceOf(LifeboatError);
          expect((error as LifeboatError).code).toBe('ENV_SYNTAX');
          expect((error as LifeboatError).message).toContain('modules/m/environment');
        }
      }),
      { numRuns: RUNS * 4 },
    );
  });
});

// The keys assigned at the start of a line that is not inside a multi-line quoted value.
function assignedKeys(text: string): string[] {
  const keys: string[] = [];
  let open: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (open) {
      if (closes(line, open)) open = undefined;
      continue;
    }
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    keys.push(match[1]);
    const value = match[2];
    if (['"', "'", '`'].includes(value[0]) && !closes(value.slice(1), value[0])) open = value[0];
  }
  return keys;
}

function closes(text: string, quote: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && quote === '"') i++;
    else if (text[i] === quote) return true;
  }
  return false;
}

// Configuration documents: anything JSON can hold, and documents shaped like the real ones with any values.
const anyJson = fc.jsonValue({ maxDepth: 4 });
const repository = fc.record({ provider: fc.oneof(fc.constantFrom('restic', 'tar', 'borg', 'copy'), anyJson), url: anyJson, passwordFile: anyJson, env: anyJson, compression: anyJson, upload: anyJson }, { requiredKeys: [] });
const lifeboatDoc = fc.oneof(
  anyJson,
  fc.record({ repositories: fc.oneof(anyJson, fc.dictionary(fc.string({ maxLength: 8 }), repository, { maxKeys: 3 })), defaults: anyJson, notify: anyJson, host: anyJson }, { requiredKeys: [] }),
);
const moduleDoc = fc.oneof(
  anyJson,
  fc.record(
    {
      folders: fc.oneof(anyJson, fc.array(fc.oneof(fc.constantFrom('/srv/x', 'rel', '', '${HOME}/x', '${NOPE:-/d}'), fc.string()), { maxLength: 3 })),
      exclude: anyJson,
      service: fc.oneof(anyJson, fc.record({ systemd: anyJson, container: anyJson, stop: anyJson, start: anyJson, isActive: anyJson, engine: anyJson, stopDuringBackup: anyJson }, { requiredKeys: [] })),
      databases: fc.oneof(anyJson, fc.array(fc.dictionary(fc.constantFrom('postgres', 'mysql', 'redis', 'sqlite', 'oracle'), anyJson, { maxKeys: 2 }), { maxLength: 2 })),
      repositories: anyJson,
      schedule: fc.oneof(anyJson, fc.constantFrom('0 3 * * *', '61 * * * *', '@daily', '* * * * * * *', '')),
      retention: anyJson,
      timeouts: anyJson,
      enabled: anyJson,
    },
    { requiredKeys: [] },
  ),
);
const yamlText = fc.string({ unit: fc.constantFrom(...'ab: -[]{}\'"#&*!|>%@`,?\n\t 0${}/'.split('')), maxLength: 80 });

// Loads a root holding these files; returns 'ok' or the LifeboatError (anything else fails the property).
function load(files: Record<string, string>): 'ok' | LifeboatError {
  const root = freshDir();
  mkdirSync(path.join(root, 'modules', 'm'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(root, name), text, { mode: 0o600 });
  try {
    loadModules(loadRoot({ root, stateDir: path.join(root, 'state') }));
    return 'ok';
  } catch (error) {
    if (error instanceof LifeboatError) return error;
    throw error;
  }
}

describe('configuration validation throws only LifeboatError', () => {
  it('any lifeboat.json and module.json', () => {
    fc.assert(
      fc.property(lifeboatDoc, moduleDoc, (global, module) => {
        const result = load({ 'lifeboat.json': JSON.stringify(global), 'modules/m/module.json': JSON.stringify(module) });
        if (result !== 'ok') {
          expect(result.exitCode).toBe(2);
          for (const problem of result.problems) expect(problem).toMatch(/lifeboat\.json|modules\/m\/module\.json|module "m"|repository/);
        }
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('any YAML text in lifeboat.yaml and module.yaml', () => {
    fc.assert(
      fc.property(yamlText, yamlText, (global, module) => {
        const result = load({ 'lifeboat.yaml': global, 'modules/m/module.yaml': module });
        if (result !== 'ok') expect(result.exitCode).toBe(2);
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('any root environment file next to a valid configuration', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (env) => {
        const result = load({ environment: env, 'lifeboat.yaml': 'repositories: { local: { provider: copy, url: "${REPO_URL:-/x}" } }\n', 'modules/m/module.yaml': 'folders: ["${DATA:-/srv/d}"]\n' });
        if (result !== 'ok') expect(result.problems.every((p) => p.startsWith('environment'))).toBe(true);
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
