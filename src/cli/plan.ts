// `lifeboat plan MODULE [ACTION]`: the phase table rendered for one module, every layer resolved.
import { createLogger, loadForCommand, printJson, renderTable, type GlobalOptions } from './common.js';
import { ACTIONS, type Action } from '../lifecycle/phases.js';
import { planAction } from '../lifecycle/runner.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { LifeboatError } from '../errors.js';

const ALL_ACTIONS = Object.keys(ACTIONS) as Action[];

// Prints the plan of one module for one action or all of them.
export async function planCommand([name, action]: unknown[], options: GlobalOptions): Promise<number> {
  const log = createLogger(options);
  if (action !== undefined && !ALL_ACTIONS.includes(action as Action)) {
    throw new LifeboatError('USAGE', `unknown action ${JSON.stringify(action)}; use one of ${ALL_ACTIONS.join(', ')}`);
  }
  const { root, modules } = loadForCommand(options, [name as string], log);
  const actions = action ? [action as Action] : ALL_ACTIONS;
  if (options.json) {
    printJson({ module: modules[0].name, actions: Object.fromEntries(actions.map((a) => [a, planJson(root, modules[0], a)])) });
    return 0;
  }
  printPlan(root, modules[0], actions);
  return 0;
}

// The plan of one action as plain data (for --json).
function planJson(root: RootConfig, module: ModuleConfig, action: Action) {
  return planAction({ root, module, action }).map(({ step, parts }) => ({
    phase: step.phase,
    runs: step.runs,
    parts: parts.map((p) => ({
      name: p.name,
      layer: p.layer,
      path: p.path,
      status: p.status,
      reason: p.reason ?? null,
      does: p.builtin?.does ?? null,
      replaces: p.replaces.map((r) => ({ layer: r.layer, path: r.path })),
    })),
  }));
}

// Prints the plan as aligned tables, one per action (used by plan and by --dry-run).
export function printPlan(root: RootConfig, module: ModuleConfig, actions: Action[]): void {
  for (const action of actions) {
    const rows: string[][] = [];
    for (const { step, parts } of planAction({ root, module, action })) {
      if (parts.length === 0) rows.push([step.phase, step.runs, '-', '', '', '(no parts)']);
      for (const p of parts) {
        const notes = [p.reason, p.builtin && p.layer === 'builtin' ? p.builtin.does : p.path];
        if (p.replaces.length) notes.push(`replaces ${p.replaces.map((r) => r.layer).join(', ')}`);
        rows.push([step.phase, step.runs, p.name, p.layer, p.status, notes.filter(Boolean).join('; ')]);
      }
    }
    process.stdout.write(`module ${module.name}: ${action}\n`);
    process.stdout.write(renderTable(['PHASE', 'RUNS', 'PART', 'LAYER', 'STATUS', 'DETAILS'], rows).trimEnd().replace(/^/gm, '  ') + '\n');
    process.stdout.write('\n');
  }
}
