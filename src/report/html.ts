// The HTML report: one self-contained page (inline CSS and SVG, no script, no network) with each module's
// history from the journal: a timeline of runs, size and duration over time, the last restore drill.
import { escapeControl } from '../log/control.js';
import type { JournalRun } from '../state/journal.js';
import type { ModuleStatus } from './status.js';
import { formatBytes, formatDuration, formatTime } from '../log/format.js';

export const COLORS = { success: '#2e9e5b', failure: '#d43c3c', other: '#9a9a9a', size: '#3b6fd4', duration: '#e08a1e', verify: '#7b4fc9' };

export interface ReportInput {
  host: string;
  generated: Date;
  from: Date;
  statuses: ModuleStatus[];
  // Runs of every action, oldest first.
  runs: JournalRun[];
}

const WIDTH = 720;

// Renders the whole page.
export function renderReport(input: ReportInput): string {
  const sections = input.statuses.map((status) => renderModule(status, input.runs.filter((run) => run.module === status.module), input));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lifeboat report — ${escape(input.host)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 780px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 0 0 8px; } h3 { font-size: 13px; margin: 12px 0 2px; color: #555; font-weight: 600; }
.meta { color: #666; margin-bottom: 20px; }
section { border: 1px solid #ddd; border-radius: 6px; padding: 14px 18px; margin-bottom: 18px; }
table.facts { border-collapse: collapse; margin-bottom: 6px; } table.facts td { padding: 1px 14px 1px 0; vertical-align: top; }
table.facts td:first-child { color: #666; white-space: nowrap; }
.state { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-size: 12px; margin-left: 8px; vertical-align: 2px; }
.state.ok { background: ${COLORS.success}; } .state.bad { background: ${COLORS.failure}; } .state.none { background: ${COLORS.other}; }
svg { display: block; } svg text { font: 10px system-ui, sans-serif; fill: #666; }
.error { color: ${COLORS.failure}; font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; vertical-align: -1px; }
</style>
</head>
<body>
<h1>Lifeboat report — ${escape(input.host)}</h1>
<div class="meta">${input.statuses.length} module(s), runs from ${formatTime(input.from.toISOString())} to ${formatTime(input.generated.toISOString())}
<span class="legend"><span style="background:${COLORS.success}"></span>success<span style="background:${COLORS.failure}"></span>failure<span style="background:${COLORS.other}"></span>skipped, running or interrupted</span></div>
${sections.join('\n') || '<p>No modules.</p>'}
</body>
</html>
`;
}

// The drill schedule after the last drill: OVERDUE in red when it has been missed.
function drillSchedule(status: ModuleStatus): string {
  const v = status.verify;
  if (!v.schedule) return '';
  const overdue = v.overdue ? ` <strong class="error overdue">OVERDUE</strong>: no successful drill for more than ${formatDuration(v.overdueAfterSeconds)}` : '';
  return `${overdue}; drills <code>${escape(v.schedule)}</code>, next ${formatTime(v.nextRun)}`;
}

// One module: facts, timeline, size and duration charts, last verify.
function renderModule(status: ModuleStatus, runs: JournalRun[], input: ReportInput): string {
  const backups = runs.filter((run) => run.action === 'backup');
  const successes = backups.filter((run) => run.result === 'success');
  const stateClass = status.state === 'ok' ? 'ok' : status.state === 'never-run' || status.state === 'disabled' || status.state === 'running' ? 'none' : 'bad';
  const verify = status.verify.result
    ? `${status.verify.result === 'success' ? 'passed' : escape(status.verify.result)} ${formatTime(status.verify.last)}${status.verify.error ? ` — <span class="error">${escape(shorten(status.verify.error))}</span>` : ''}`
    : 'never run';
  const lastFailure = status.lastFailure ? `${formatTime(status.lastFailure)}${status.lastError ? ` — <span class="error">${escape(shorten(status.lastError))}</span>` : ''}` : 'none';
  return `<section id="module-${escape(status.module)}" data-module="${escape(status.module)}">
<h2>${escape(status.module)}<span class="state ${stateClass}">${escape(status.state)}</span></h2>
<table class="facts">
${status.configProblems?.length ? `<tr><td>Cannot run</td><td class="error broken">${status.configProblems.map((problem) => escape(problem)).join('<br>')}</td></tr>
` : ''}<tr><td>Last success</td><td>${formatTime(status.lastSuccess)}${status.ageSeconds !== null ? ` (${formatDuration(status.ageSeconds)} ago)` : ''}</td></tr>
<tr><td>Last failure</td><td>${lastFailure}</td></tr>
<tr><td>Schedule</td><td>${status.schedule ? `<code>${escape(status.schedule)}</code>, next ${formatTime(status.nextRun)}` : 'none'}</td></tr>
<tr><td>Last restore drill</td><td class="verify">${verify}${drillSchedule(status)}</td></tr>
<tr><td>Runs shown</td><td>${backups.length} backup(s), ${runs.length - backups.length} other</td></tr>
</table>
<h3>Timeline (backups above, restore drills below)</h3>
${timeline(runs, input.from, input.generated)}
<h3>Size added per backup</h3>
${barChart('chart-size', successes.filter((run) => run.bytes > 0).map((run) => ({ time: run.ended ?? run.started, value: run.bytes })), input, COLORS.size, formatBytes)}
<h3>Duration per backup</h3>
${barChart('chart-duration', backups.filter((run) => run.durationMs !== undefined).map((run) => ({ time: run.ended ?? run.started, value: (run.durationMs ?? 0) / 1000 })), input, COLORS.duration, formatDuration)}
</section>`;
}

// Runs as marks on a time axis: backups in the upper row, verify runs in the lower one.
function timeline(runs: JournalRun[], from: Date, to: Date): string {
  const height = 46;
  const x = scaleTime(from, to);
  const marks = runs
    .filter((run) => run.action === 'backup' || run.action === 'verify')
    .map((run) => {
      const y = run.action === 'backup' ? 6 : 24;
      const color = run.result === 'success' ? COLORS.success : run.result === 'failure' ? COLORS.failure : COLORS.other;
      const title = `${run.action} ${run.result} ${formatTime(run.ended ?? run.started)}${run.error ? `: ${run.error}` : ''}`;
      return `<rect class="run ${escape(run.result)}" x="${(x(run.started) - 3).toFixed(1)}" y="${y}" width="6" height="14" rx="1.5" fill="${color}"><title>${escape(title)}</title></rect>`;
    });
  return `<svg class="timeline" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="timeline of runs">
<line x1="0" y1="${height - 4}" x2="${WIDTH}" y2="${height - 4}" stroke="#ccc"/>
${marks.join('\n')}
<text x="0" y="${height - 6}" text-anchor="start" dy="-1"></text>
</svg>`;
}

// A bar per run at its time, scaled to the largest value, with the max labelled.
function barChart(className: string, points: Array<{ time: string; value: number }>, input: ReportInput, color: string, label: (value: number) => string): string {
  const height = 110;
  const top = 14;
  const bottom = height - 16;
  if (points.length === 0) return `<svg class="${className} empty" width="${WIDTH}" height="24"><text x="0" y="16">no data yet</text></svg>`;
  const max = Math.max(...points.map((p) => p.value), 1e-9);
  const x = scaleTime(input.from, input.generated);
  const barWidth = Math.max(3, Math.min(24, (WIDTH / Math.max(points.length, 1)) * 0.6));
  const bars = points.map((p) => {
    const h = Math.max(2, ((bottom - top) * p.value) / max);
    return `<rect x="${(x(p.time) - barWidth / 2).toFixed(1)}" y="${(bottom - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${escape(`${formatTime(p.time)}: ${label(p.value)}`)}</title></rect>`;
  });
  return `<svg class="${className}" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${className}">
<line x1="0" y1="${bottom}" x2="${WIDTH}" y2="${bottom}" stroke="#ccc"/>
<line x1="0" y1="${top}" x2="${WIDTH}" y2="${top}" stroke="#eee" stroke-dasharray="3 3"/>
<text x="2" y="${top - 3}">max ${escape(label(max))}</text>
${bars.join('\n')}
<text x="0" y="${height - 3}">${escape(formatTime(input.from.toISOString()))}</text>
<text x="${WIDTH}" y="${height - 3}" text-anchor="end">${escape(formatTime(input.generated.toISOString()))}</text>
</svg>`;
}

// Maps a time to an x position inside the chart (with a margin so marks at the edges stay whole).
function scaleTime(from: Date, to: Date): (time: string) => number {
  const start = from.getTime();
  const span = Math.max(1, to.getTime() - start);
  const margin = 14;
  return (time) => margin + ((Math.min(Math.max(Date.parse(time), start), to.getTime()) - start) / span) * (WIDTH - 2 * margin);
}

// Long tool errors keep their start (the part that says what failed).
function shorten(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

// Escapes text for HTML content and attribute values; control characters are shown as \xHH.
function escape(text: string): string {
  return escapeControl(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
