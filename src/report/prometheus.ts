// The Prometheus textfile for node_exporter's textfile collector: lifeboat_* gauges with a module label.
import type { ModuleStatus } from './status.js';

interface Metric {
  name: string;
  help: string;
  value: (status: ModuleStatus) => number | null;
}

const seconds = (iso: string | null) => (iso ? Date.parse(iso) / 1000 : null);
const RESULT_VALUE: Record<string, number> = { success: 1, skipped: 1, failure: 0, interrupted: 0 };

// One entry per metric; a module without a value (never ran) is left out of that metric.
const METRICS: Metric[] = [
  { name: 'lifeboat_last_success_timestamp_seconds', help: 'When the last successful backup of the module ended (Unix time).', value: (s) => seconds(s.lastSuccess) },
  { name: 'lifeboat_last_failure_timestamp_seconds', help: 'When the last failed or interrupted backup of the module ended (Unix time).', value: (s) => seconds(s.lastFailure) },
  { name: 'lifeboat_last_result', help: 'Result of the latest finished backup: 1 success, 0 failure.', value: (s) => (s.lastResult && s.lastResult in RESULT_VALUE ? RESULT_VALUE[s.lastResult] : null) },
  { name: 'lifeboat_last_duration_seconds', help: 'How long the latest backup run took.', value: (s) => (s.lastDurationMs === null ? null : s.lastDurationMs / 1000) },
  { name: 'lifeboat_last_size_bytes', help: 'Bytes the last successful backup added to its repositories (archive size for tar).', value: (s) => s.bytes },
  { name: 'lifeboat_next_run_timestamp_seconds', help: 'When the schedule runs the backup next (Unix time).', value: (s) => seconds(s.nextRun) },
  { name: 'lifeboat_stale', help: '1 when the last success is older than twice the schedule interval.', value: (s) => (s.enabled && s.schedule ? (s.stale ? 1 : 0) : null) },
  { name: 'lifeboat_enabled', help: '1 when the module is enabled.', value: (s) => (s.enabled ? 1 : 0) },
  { name: 'lifeboat_module_config_ok', help: '0 when the module.yaml of the module cannot be loaded (the module cannot run; `lifeboat check` names the problem), 1 otherwise.', value: (s) => (s.state === 'broken' ? 0 : 1) },
  { name: 'lifeboat_verify_last_success_timestamp_seconds', help: 'When the last successful restore drill (verify) of the module ended (Unix time).', value: (s) => seconds(s.verify.lastSuccess) },
  { name: 'lifeboat_verify_overdue', help: '1 when the last successful restore drill is older than twice its schedule interval (modules with verify.schedule).', value: (s) => (s.enabled && s.verify.schedule ? (s.verify.overdue ? 1 : 0) : null) },
  { name: 'lifeboat_verify_next_run_timestamp_seconds', help: 'When the schedule runs the restore drill next (Unix time).', value: (s) => seconds(s.verify.nextRun) },
  { name: 'lifeboat_verify_last_result', help: 'Result of the latest restore drill (verify): 1 success, 0 failure.', value: (s) => (s.verify.result && s.verify.result in RESULT_VALUE ? RESULT_VALUE[s.verify.result] : null) },
];

// Renders the exposition format (HELP, TYPE, one sample per module).
export function renderPrometheus(statuses: ModuleStatus[], now = new Date()): string {
  const lines: string[] = [];
  for (const metric of METRICS) {
    const samples = statuses.map((status) => [status.module, metric.value(status)] as const).filter(([, value]) => value !== null && Number.isFinite(value));
    if (samples.length === 0) continue;
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} gauge`);
    for (const [module, value] of samples) lines.push(`${metric.name}{module="${escapeLabel(module)}"} ${formatNumber(value!)}`);
  }
  lines.push('# HELP lifeboat_status_timestamp_seconds When this file was written (Unix time).', '# TYPE lifeboat_status_timestamp_seconds gauge', `lifeboat_status_timestamp_seconds ${formatNumber(now.getTime() / 1000)}`);
  return `${lines.join('\n')}\n`;
}

// Label values escape backslash, double quote and newline.
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// Whole numbers as integers, others with millisecond precision.
function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}
