// `lifeboat init --example`: lifeboat.yaml and module.yaml with every key commented, generated from the
// JSON Schemas; `check` loads them, every schema key is in them, and uncommented blocks are valid.
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lifeboat, PROJECT } from '../helpers/root.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

// Every property name in a schema, with the JSON path it sits at.
function schemaKeys(node: unknown, at = ''): Array<{ key: string; at: string }> {
  if (!node || typeof node !== 'object') return [];
  const out: Array<{ key: string; at: string }> = [];
  for (const [name, value] of Object.entries(node as Record<string, unknown>)) {
    if (name === 'properties') for (const key of Object.keys(value as object)) if (key !== '$schema') out.push({ key, at: `${at}/${key}` });
    out.push(...schemaKeys(value, `${at}/${name}`));
  }
  return out;
}

// The top-level block `# key:` of a reference, uncommented (its ## lines dropped).
function uncommentBlock(text: string, key: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(`# ${key}:`);
  expect(start, `# ${key}: in the reference`).toBeGreaterThan(-1);
  const block = [lines[start].slice(2)];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('##')) continue;
    if (!line.startsWith('#  ')) break;
    block.push(line.slice(2));
  }
  return `${block.join('\n')}\n`;
}

describe('init --example', () => {
  it('writes every key of both schemas, commented, and check loads the files', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-example-'));
    const t = { root: path.join(dir, 'root'), stateDir: path.join(dir, 'state') };
    const init = await lifeboat(t, ['init', '--example']);
    expect(init.exitCode, init.stderr).toBe(0);
    const lifeboatYaml = readFileSync(path.join(t.root, 'lifeboat.yaml'), 'utf8');
    const moduleYaml = readFileSync(path.join(t.root, 'modules', 'example', 'module.yaml'), 'utf8');
    expect(lifeboatYaml).toContain('## Every key of lifeboat.yaml, generated from lifeboat.schema.json by `lifeboat init --example`.');
    expect(moduleYaml).toContain('## Every key of module.yaml, generated from module.schema.json by `lifeboat init --example`.');

    for (const [file, text] of [['lifeboat', lifeboatYaml], ['module', moduleYaml]] as const) {
      const schema = JSON.parse(readFileSync(path.join(PROJECT, 'src', 'config', 'schema', `${file}.schema.json`), 'utf8'));
      for (const { key, at } of schemaKeys(schema)) {
        if (at.startsWith('/definitions/') && file === 'module') continue;
        expect(text, `${file}.schema.json ${at}`).toMatch(new RegExp(`^#\\s+(- )?${key.replace('$', '\\$')}:`, 'm'));
      }
    }
    // A description for every key: no setting line without its ## line above it (maps' NAME: value aside).
    const lines = moduleYaml.split('\n');
    lines.forEach((line, index) => {
      if (/^# +(- )?\w+:/.test(line) && index > 0) expect(lines[index - 1], line).toMatch(/^##|^# +(- )?\w+:$/);
    });

    const check = await lifeboat(t, ['check']);
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/configuration valid \(1 enabled module\(s\)\)/);
  });

  it('blocks of the reference are valid once uncommented', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-example-'));
    const t = { root: path.join(dir, 'root'), stateDir: path.join(dir, 'state') };
    expect((await lifeboat(t, ['init', '--example'])).exitCode).toBe(0);
    const moduleFile = path.join(t.root, 'modules', 'example', 'module.yaml');
    const reference = readFileSync(moduleFile, 'utf8');
    appendFileSync(moduleFile, uncommentBlock(reference, 'verify') + uncommentBlock(reference, 'timeouts'));
    const status = await lifeboat(t, ['status', '--json']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).modules[0].verify.schedule).toBe('30 4 * * 0');
    expect((await lifeboat(t, ['check'])).exitCode).toBe(0);
  });
});
