// The phase vocabulary of the parts layer: actions, phases, how each phase runs, and the shape of a
// built-in part. The table of built-ins itself lives in src/lifecycle/phases.ts (ARCHITECTURE.md: parts/
// receives the built-ins from its caller and imports nothing from lifecycle/).
export type Action = 'backup' | 'restore' | 'verify';
export type PhaseName =
  | 'pre-backup'
  | 'backup'
  | 'post-backup'
  | 'pre-restore'
  | 'restore'
  | 'post-restore'
  | 'verify'
  | 'finally'
  | 'on-success'
  | 'on-failure';

// `ok`: runs only while nothing failed, stops at the first failing part (fail-fast).
// `always`: runs after a failure or a signal too, and every part in it runs.
// `success` / `failure`: the closing phase, chosen by the outcome; every part runs.
export type PhaseRuns = 'ok' | 'always' | 'success' | 'failure';

export interface PhaseStep {
  phase: PhaseName;
  runs: PhaseRuns;
}

export const ACTIONS: Record<Action, PhaseStep[]> = {
  backup: [
    { phase: 'pre-backup', runs: 'ok' },
    { phase: 'backup', runs: 'ok' },
    { phase: 'post-backup', runs: 'ok' },
    { phase: 'finally', runs: 'always' },
    { phase: 'on-success', runs: 'success' },
    { phase: 'on-failure', runs: 'failure' },
  ],
  restore: [
    { phase: 'pre-restore', runs: 'ok' },
    { phase: 'restore', runs: 'ok' },
    { phase: 'post-restore', runs: 'ok' },
    { phase: 'finally', runs: 'always' },
    { phase: 'on-success', runs: 'success' },
    { phase: 'on-failure', runs: 'failure' },
  ],
  verify: [
    { phase: 'verify', runs: 'ok' },
    { phase: 'finally', runs: 'always' },
    { phase: 'on-success', runs: 'success' },
    { phase: 'on-failure', runs: 'failure' },
  ],
};

// A built-in part: a row of the lifecycle table. `load` gives the function the lifecycle runs; the parts
// layer only discovers and orders built-ins, so it does not know that function's type.
export interface BuiltinPart<F = unknown> {
  phase: PhaseName;
  name: string;
  does: string;
  // The actions it belongs to, for a phase several actions share (finally); all when absent.
  actions?: Action[];
  // Loaded on first use, so a command pays only for the parts it runs.
  load: () => Promise<F>;
}

// Every phase name that has a hooks.d/<phase>/ directory.
export const PHASES: PhaseName[] = [...new Set(Object.values(ACTIONS).flatMap((steps) => steps.map((step) => step.phase)))];

// Built-ins that ran in post-backup/post-restore before the finally phase existed: a file of that name in
// a root's or module's old post-* folder (a replacement or a mask) still takes the built-in's place in
// finally, with a warning to move it; it never runs in post-* (which now runs only after success).
export const MOVED_TO_FINALLY: Partial<Record<PhaseName, { action: Action; names: string[] }>> = {
  'post-backup': { action: 'backup', names: ['70module_cleanup_state', '80remove_dumps', '90start_service'] },
  'post-restore': { action: 'restore', names: ['90start_service'] },
};

// Exit status of a part that skips the rest of its module's action without failing it.
export const EXIT_SKIP = 75;
