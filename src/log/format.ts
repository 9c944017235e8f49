// Human formats shared by `status`, the HTML report and progress bars: sizes, durations, times.

// 1536 -> "1.5 KiB"; binary units, one decimal below 10.
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

// Seconds -> "45s", "12m", "3h 05m", "2d 4h".
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

// ISO time -> "2026-11-21 03:15Z" (UTC, minutes), or "-".
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return new Date(iso).toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

// An id as listings and summaries show it: a restic id (hex) cut to `hexLength` characters, any other id
// whole. A borg archive name (<module>-<UTC time>) or a tar id cut short would be ambiguous: archives
// of one module made the same day share their first characters.
export function shortId(id: string, hexLength = 12): string {
  return /^[0-9a-f]{16,}$/.test(id) ? id.slice(0, hexLength) : id;
}
