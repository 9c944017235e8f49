// The runner, handed to a built-in that runs other parts itself (05safety_snapshot runs a backup's dump
// steps) without an import circle: runner.ts registers itself here when it loads.
import type { PhaseStep } from '../parts/phases.js';
import type { RunContext } from './context.js';

interface PlannedPart {
  phase: string;
  name: string;
  status: string;
}

export interface NestedPlan {
  step: PhaseStep;
  parts: PlannedPart[];
}

export interface NestedOutcome {
  ok: boolean;
  skipped: boolean;
  failedPart?: string;
  error?: string;
}

export interface NestedRunner {
  planAction(run: Pick<RunContext, 'root' | 'module' | 'action'>): NestedPlan[];
  runAction(run: RunContext, plan: NestedPlan[]): Promise<NestedOutcome>;
}

let registered: NestedRunner | undefined;

export function registerRunner(runner: NestedRunner): void {
  registered = runner;
}

// The runner that runs this action (loaded before any built-in runs).
export function nestedRunner(): NestedRunner {
  // Internal invariant: a built-in runs only from the runner, which registered itself on load.
  if (!registered) throw new Error('the runner is not loaded');
  return registered;
}
