// Progress bars on a terminal: bytes, rate and ETA for snapshot, restore, manifest hashing and
// comparison. Only when stderr is a TTY and the command is not --json or -q; otherwise every handle is
// a no-op, so logs stay plain lines (journald, cron mail, pipes). Log lines are written above the bars.
import type { LogSink } from './logger.js';
import { formatBytes } from './format.js';

export interface ProgressHandle {
  // Bytes done so far (and the total, when it becomes known); files too, for bars that count them.
  update(done: number, total?: number, files?: FileCount): void;
  // Removes the bar.
  done(): void;
}

// Files done of a total (when known), shown after the bytes: `120/340 files`.
export interface FileCount {
  done: number;
  total?: number;
}

interface Bar {
  label: string;
  done: number;
  total?: number;
  started: number;
  files?: FileCount;
}

const REDRAW_MS = 100;
const NOOP: ProgressHandle = { update() {}, done() {} };

let terminal: NodeJS.WriteStream | undefined;
const bars = new Set<Bar>();
let drawnLines = 0;
let lastDraw = 0;
let ticker: NodeJS.Timeout | undefined;

// Turns progress on when stderr is a terminal (and not --json, -q, or LIFEBOAT_PROGRESS=0); returns the
// log sink that keeps log lines and bars apart, or undefined to keep the logger's default sink.
export function enableProgress(options: { json?: boolean; quiet?: boolean }, stream: NodeJS.WriteStream = process.stderr): LogSink | undefined {
  if (options.json || options.quiet || !stream.isTTY || process.env.LIFEBOAT_PROGRESS === '0' || process.env.TERM === 'dumb') return undefined;
  terminal = stream;
  return {
    write(line: string) {
      clearBars();
      stream.write(line);
      drawBars();
    },
  };
}

// True when bars are shown (callers may skip work that only feeds them).
export function progressEnabled(): boolean {
  return terminal !== undefined;
}

// Starts a bar; without a known total it shows bytes and rate (or the elapsed time while nothing moves).
export function startProgress(label: string, total?: number): ProgressHandle {
  if (!terminal) return NOOP;
  const bar: Bar = { label, done: 0, total, started: Date.now() };
  bars.add(bar);
  ticker ??= setInterval(() => redraw(true), 1000).unref();
  redraw(true);
  return {
    update(done, newTotal, files) {
      bar.done = done;
      if (files) bar.files = files;
      const learnedTotal = newTotal !== undefined && newTotal !== bar.total;
      if (newTotal !== undefined) bar.total = newTotal;
      redraw(learnedTotal);
    },
    done() {
      if (!bars.delete(bar)) return;
      redraw(true);
      if (bars.size === 0 && ticker) {
        clearInterval(ticker);
        ticker = undefined;
      }
    },
  };
}

// Redraws at most every REDRAW_MS unless forced.
function redraw(force: boolean): void {
  if (!terminal) return;
  const now = Date.now();
  if (!force && now - lastDraw < REDRAW_MS) return;
  lastDraw = now;
  clearBars();
  drawBars();
}

// Erases the bars drawn last time, leaving the cursor at the start of the first one.
function clearBars(): void {
  if (!terminal || drawnLines === 0) return;
  terminal.write(`\r\x1b[2K${'\x1b[1A\x1b[2K'.repeat(drawnLines - 1)}`);
  drawnLines = 0;
}

// Draws every bar, one a line, without a trailing newline (the next log line clears them first).
function drawBars(): void {
  if (!terminal || bars.size === 0) return;
  const width = Math.max(40, (terminal.columns || 80) - 1);
  const lines = [...bars].map((bar) => renderBar(bar, Date.now()).slice(0, width));
  terminal.write(lines.join('\n'));
  drawnLines = lines.length;
}

// One bar: `blog: snapshot local [#######.......]  48%  48.0 MiB / 100 MiB  21.3 MiB/s  ETA 0:03`.
export function renderBar(bar: Pick<Bar, 'label' | 'done' | 'total' | 'started' | 'files'>, now: number): string {
  return renderBytes(bar, now) + (bar.files ? `  ${bar.files.done}${bar.files.total === undefined ? '' : `/${bar.files.total}`} files` : '');
}

// The bar without its file count.
function renderBytes(bar: Pick<Bar, 'label' | 'done' | 'total' | 'started'>, now: number): string {
  const seconds = Math.max(0.001, (now - bar.started) / 1000);
  const rate = Math.round(bar.done / seconds);
  if (!bar.total) {
    return bar.done > 0 ? `${bar.label}  ${formatBytes(bar.done)}  ${formatBytes(rate)}/s` : `${bar.label}  ${clock(seconds)}`;
  }
  const fraction = Math.min(1, bar.done / bar.total);
  const cells = 20;
  const filled = Math.round(fraction * cells);
  const eta = rate > 0 && fraction < 1 ? clock((bar.total - bar.done) / rate) : fraction >= 1 ? '0:00' : '?';
  return `${bar.label} [${'#'.repeat(filled)}${'.'.repeat(cells - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(bar.done)} / ${formatBytes(bar.total)}  ${formatBytes(rate)}/s  ETA ${eta}`;
}

// 75 -> "1:15", 3725 -> "1:02:05".
function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}
