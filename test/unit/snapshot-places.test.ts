// Which module paths a snapshot holds under another --state-dir or --root, and how they map (README
// "Restoring on a fresh host").
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { relocateRestored, relocations, toHere, toSnapshot } from '../../src/lifecycle/snapshot-places.js';

const here = { root: '/r2', stateDir: '/s2' };
const module = { name: 'ns', stateDir: '/s2/modules/ns/state', envFile: '/r2/modules/ns/environment' };

describe('relocations', () => {
  it('maps the state dir and the environment file of another state dir and root; nothing else', () => {
    const moved = relocations(here, module, ['/data/ns', '/s1/modules/ns/state/', '/r1/modules/ns/environment']);
    expect(moved).toEqual([
      { what: 'state dir', from: '/s1/modules/ns/state', to: '/s2/modules/ns/state', option: '--state-dir', was: '/s1' },
      { what: 'environment file', from: '/r1/modules/ns/environment', to: '/r2/modules/ns/environment', option: '--root', was: '/r1' },
    ]);
    expect(toHere('/s1/modules/ns/state/sub/x', moved)).toBe('/s2/modules/ns/state/sub/x');
    expect(toHere('/data/ns/f', moved)).toBe('/data/ns/f');
    expect(toHere('/s1/modules/ns/statex', moved)).toBe('/s1/modules/ns/statex');
    expect(toSnapshot('/s2/modules/ns/state', moved)).toBe('/s1/modules/ns/state');
    expect(toSnapshot('/r2/modules/ns/environment', moved)).toBe('/r1/modules/ns/environment');
  });

  it('none when the snapshot holds this host\'s paths, a folder holding them, another module\'s, or no paths', () => {
    expect(relocations(here, module, ['/s2/modules/ns/state', '/r2/modules/ns/environment'])).toEqual([]);
    expect(relocations(here, module, ['/s2', '/r1/modules/ns/environment']).map((m) => m.what)).toEqual(['environment file']);
    expect(relocations(here, module, ['/s1/modules/other/state'])).toEqual([]);
    expect(relocations(here, module, undefined)).toEqual([]);
  });

  it('moves what was restored into this host\'s place inside the scratch folder and drops the empty folders that led to it', () => {
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-places-'));
    try {
      mkdirSync(path.join(scratch, 's1/modules/ns/state'), { recursive: true });
      writeFileSync(path.join(scratch, 's1/modules/ns/state/s.txt'), 'state\n');
      mkdirSync(path.join(scratch, 'data'), { recursive: true });
      relocateRestored(scratch, relocations(here, module, ['/data', '/s1/modules/ns/state']));
      expect(readFileSync(path.join(scratch, 's2/modules/ns/state/s.txt'), 'utf8')).toBe('state\n');
      expect(existsSync(path.join(scratch, 's1'))).toBe(false);
      expect(existsSync(path.join(scratch, 'data'))).toBe(true);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
