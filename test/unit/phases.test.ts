// The lifecycle table: the phases of each action, the built-ins (what `plan` shows) and their loaders.
import { describe, expect, it } from 'vitest';
import { ACTIONS, BUILTINS, EXIT_SKIP, MOVED_TO_FINALLY, PHASES, builtinsOf } from '../../src/lifecycle/phases.js';
// Imported here, not inside a test: under Stryker, module-level code must run at import (static coverage).
import * as databases from '../../src/lifecycle/builtins/databases.js';
import * as moduleState from '../../src/lifecycle/builtins/module-state.js';
import * as service from '../../src/lifecycle/builtins/service.js';
import * as snapshot from '../../src/lifecycle/builtins/snapshot.js';
import * as retention from '../../src/lifecycle/builtins/retention.js';
import * as restore from '../../src/lifecycle/builtins/restore.js';
import * as verify from '../../src/lifecycle/builtins/verify.js';

describe('the lifecycle table', () => {
  it('lists each action\'s phases and how they run', () => {
    const closing = [
      { phase: 'finally', runs: 'always' },
      { phase: 'on-success', runs: 'success' },
      { phase: 'on-failure', runs: 'failure' },
    ];
    expect(ACTIONS).toEqual({
      backup: [{ phase: 'pre-backup', runs: 'ok' }, { phase: 'backup', runs: 'ok' }, { phase: 'post-backup', runs: 'ok' }, ...closing],
      restore: [{ phase: 'pre-restore', runs: 'ok' }, { phase: 'restore', runs: 'ok' }, { phase: 'post-restore', runs: 'ok' }, ...closing],
      verify: [{ phase: 'verify', runs: 'ok' }, ...closing],
    });
    expect(PHASES).toEqual(['pre-backup', 'backup', 'post-backup', 'finally', 'on-success', 'on-failure', 'pre-restore', 'restore', 'post-restore', 'verify']);
    expect(EXIT_SKIP).toBe(75);
  });

  it('lists the built-ins as `plan` shows them', () => {
    expect(BUILTINS.map((b) => [b.phase, b.name, b.does, b.actions])).toEqual([
      ['pre-backup', '20dump_databases', 'dumps every database of the module (the service still runs)', undefined],
      ['pre-backup', '30module_dump_state', 'runs bin/module-dump-state when present (the service still runs)', undefined],
      ['pre-backup', '40stop_service', 'stops the service if stopDuringBackup and it is active', undefined],
      ['backup', '50snapshot', 'snapshots folders + state dir + environment into each repository', undefined],
      ['post-backup', '60retention', "applies the module's retention in each repository it just wrote to", undefined],
      ['finally', '70module_cleanup_state', 'backup: runs bin/module-cleanup-state when present', ['backup']],
      ['finally', '80remove_dumps', 'backup: removes the database dumps staged in the state dir', ['backup']],
      ['finally', '90start_service', 'starts the service if Lifeboat stopped it in this run', ['backup', 'restore']],
      ['finally', '95finish_uploads', 'backup: waits for uploads that go on after the local archive was complete (the service runs again)', ['backup']],
      ['pre-restore', '05safety_snapshot', "in-place restore: dumps what a backup would (its pre-backup steps but 40stop_service; the service still runs), then snapshots the current state", undefined],
      ['pre-restore', '08create_volumes', 'in-place restore: creates the missing container volumes of volumes/NAME lines', undefined],
      ['pre-restore', '10stop_service', 'stops the service if active (in-place restore)', undefined],
      ['restore', '10restore_module', 'restores files: folders become exactly the snapshot', undefined],
      ['restore', '30restore_databases', 'loads every database from its dump', undefined],
      ['verify', '10restore_scratch', 'restores the latest snapshot into a scratch directory', undefined],
      ['verify', '20check_manifest', 'compares the scratch restore with the backup manifest', undefined],
      ['verify', '30check_databases', 'loads each dump into a scratch database', undefined],
    ]);
  });

  it('loads each built-in\'s function from its module', async () => {
    const expected = [
      databases.dumpDatabases, moduleState.moduleDumpState, service.stopService, snapshot.snapshot, retention.retention,
      moduleState.moduleCleanupState, databases.removeDumpsPart, service.startService, snapshot.finishUploads,
      restore.safetySnapshot, moduleState.createVolumes, service.stopService, restore.restoreModule, databases.restoreDatabases,
      verify.restoreScratch, verify.checkManifest, verify.checkDatabases,
    ];
    const loaded = await Promise.all(BUILTINS.map((b) => b.load()));
    expect(loaded.every((fn) => typeof fn === 'function')).toBe(true);
    loaded.forEach((fn, i) => expect(fn, BUILTINS[i]!.name).toBe(expected[i]));
  }, 60_000);

  it('builtinsOf filters by phase and action', () => {
    const names = (phase: Parameters<typeof builtinsOf>[0], action?: Parameters<typeof builtinsOf>[1]) => builtinsOf(phase, action).map((b) => b.name);
    expect(names('finally')).toEqual(['70module_cleanup_state', '80remove_dumps', '90start_service', '95finish_uploads']);
    expect(names('finally', 'backup')).toEqual(['70module_cleanup_state', '80remove_dumps', '90start_service', '95finish_uploads']);
    expect(names('finally', 'restore')).toEqual(['90start_service']);
    expect(names('finally', 'verify')).toEqual([]);
    expect(names('pre-backup', 'backup')).toEqual(['20dump_databases', '30module_dump_state', '40stop_service']);
    expect(names('restore', 'restore')).toEqual(['10restore_module', '30restore_databases']);
    expect(names('on-success', 'backup')).toEqual([]);
  });

  it('names the built-ins that moved to finally', () => {
    expect(MOVED_TO_FINALLY).toEqual({
      'post-backup': { action: 'backup', names: ['70module_cleanup_state', '80remove_dumps', '90start_service'] },
      'post-restore': { action: 'restore', names: ['90start_service'] },
    });
  });
});
