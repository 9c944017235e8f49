// THE lifecycle table: every action's phases and every built-in part, in one place.
// The runner walks it, `plan` renders it, and hooks.d/ in the project mirrors it (a test checks).
import type { PartContext } from './context.js';
import type { Action, BuiltinPart as PartsBuiltin, PhaseName } from '../parts/phases.js';

export * from '../parts/phases.js';

// What a built-in returns: nothing (done) or 'skip' (like exit 75: the rest of the action is skipped).
export type BuiltinResult = void | 'skip';
export type BuiltinFn = (ctx: PartContext) => Promise<BuiltinResult>;

export type BuiltinPart = PartsBuiltin<BuiltinFn>;

export const BUILTINS: BuiltinPart[] = [
  { phase: 'pre-backup', name: '20dump_databases', does: 'dumps every database of the module (the service still runs)', load: async () => (await import('./builtins/databases.js')).dumpDatabases },
  { phase: 'pre-backup', name: '30module_dump_state', does: 'runs bin/module-dump-state when present (the service still runs)', load: async () => (await import('./builtins/module-state.js')).moduleDumpState },
  { phase: 'pre-backup', name: '40stop_service', does: 'stops the service if stopDuringBackup and it is active', load: async () => (await import('./builtins/service.js')).stopService },
  { phase: 'backup', name: '50snapshot', does: 'snapshots folders + state dir + environment into each repository', load: async () => (await import('./builtins/snapshot.js')).snapshot },
  { phase: 'post-backup', name: '60retention', does: "applies the module's retention in each repository it just wrote to", load: async () => (await import('./builtins/retention.js')).retention },
  { phase: 'finally', name: '70module_cleanup_state', does: 'backup: runs bin/module-cleanup-state when present', actions: ['backup'], load: async () => (await import('./builtins/module-state.js')).moduleCleanupState },
  { phase: 'finally', name: '80remove_dumps', does: 'backup: removes the database dumps staged in the state dir', actions: ['backup'], load: async () => (await import('./builtins/databases.js')).removeDumpsPart },
  { phase: 'finally', name: '90start_service', does: 'starts the service if Lifeboat stopped it in this run', actions: ['backup', 'restore'], load: async () => (await import('./builtins/service.js')).startService },
  { phase: 'finally', name: '95finish_uploads', does: 'backup: waits for uploads that go on after the local archive was complete (the service runs again)', actions: ['backup'], load: async () => (await import('./builtins/snapshot.js')).finishUploads },
  { phase: 'pre-restore', name: '05safety_snapshot', does: "in-place restore: dumps what a backup would (its pre-backup steps but 40stop_service; the service still runs), then snapshots the current state", load: async () => (await import('./builtins/restore.js')).safetySnapshot },
  { phase: 'pre-restore', name: '08create_volumes', does: 'in-place restore: creates the missing container volumes of volumes/NAME lines', load: async () => (await import('./builtins/module-state.js')).createVolumes },
  { phase: 'pre-restore', name: '10stop_service', does: 'stops the service if active (in-place restore)', load: async () => (await import('./builtins/service.js')).stopService },
  { phase: 'restore', name: '10restore_module', does: 'restores files: folders become exactly the snapshot', load: async () => (await import('./builtins/restore.js')).restoreModule },
  { phase: 'restore', name: '30restore_databases', does: 'loads every database from its dump', load: async () => (await import('./builtins/databases.js')).restoreDatabases },
  { phase: 'verify', name: '10restore_scratch', does: 'restores the latest snapshot into a scratch directory', load: async () => (await import('./builtins/verify.js')).restoreScratch },
  { phase: 'verify', name: '20check_manifest', does: 'compares the scratch restore with the backup manifest', load: async () => (await import('./builtins/verify.js')).checkManifest },
  { phase: 'verify', name: '30check_databases', does: 'loads each dump into a scratch database', load: async () => (await import('./builtins/verify.js')).checkDatabases },
];

// Built-ins of one phase (of one action, when given), in table order.
export function builtinsOf(phase: PhaseName, action?: Action): BuiltinPart[] {
  return BUILTINS.filter((part) => part.phase === phase && (!action || !part.actions || part.actions.includes(action)));
}

