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
  // When done reached the total: the rate is the one it finished at, not one that keeps falling.
  finished?: number;
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
      bar.finished = bar.total !== undefined && done >= bar.total ? (bar.finished ?? Date.now()) : undefined;
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
  const lines = [...bars].map((bar) => renderBar(bar, Date.now(), width));
  terminal.write(lines.join('\n'));
  drawnLines = lines.length;
}

// One bar: `blog: snapshot local [#######.......]  48%  48.0 MiB / 100 MiB  21.3 MiB/s  ETA 0:03`,
// fitted to `width` columns when given: the bar shrinks (to 5 cells), then the label is cut (to one
// character and …), then the bar, the byte counts and the file count are left out in that order;
// percentage, rate and ETA stay.
export function renderBar(bar: Pick<Bar, 'label' | 'done' | 'total' | 'started' | 'finished' | 'files'>, now: number, width?: number): string {
  const seconds = Math.max(0.001, ((bar.finished ?? now) - bar.started) / 1000);
  const rate = `${formatBytes(Math.round(bar.done / seconds))}/s`;
  const files = bar.files ? `  ${bar.files.done}${bar.files.total === undefined ? '' : `/${bar.files.total}`} files` : '';
  const fit = (line: (label: string) => string): string | undefined => {
    if (width === undefined || line(bar.label).length <= width) return line(bar.label);
    const room = bar.label.length - (line(bar.label).length - width);
    return room >= 2 ? line(`${bar.label.slice(0, room - 1)}…`) : undefined;
  };
  if (!bar.total) {
    const tail = bar.done > 0 ? `  ${formatBytes(bar.done)}  ${rate}${files}` : `  ${clock(seconds)}`;
    return fit((label) => label + tail) ?? (bar.label + tail).slice(0, width);
  }
  const fraction = Math.min(1, bar.done / bar.total);
  const eta = bar.done > 0 && fraction < 1 ? clock(((bar.total - bar.done) * seconds) / bar.done) : fraction >= 1 ? '0:00' : '?';
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const bytes = `  ${formatBytes(bar.done)} / ${formatBytes(bar.total)}`;
  const cellsFor = (cells: number) => {
    const filled = Math.round(fraction * cells);
    return ` [${'#'.repeat(filled)}${'.'.repeat(cells - filled)}]`;
  };
  const line = (label: string, cells: string, counts: string, count: string) => `${label}${cells} ${percent}${counts}  ${rate}  ETA ${eta}${count}`;
  const full = line(bar.label, cellsFor(20), bytes, files);
  if (width === undefined || full.length <= width) return full;
  const cells = Math.max(5, 20 - (full.length - width));
  return (
    fit((label) => line(label, cellsFor(cells), bytes, files)) ??
    fit((label) => line(label, '', bytes, files)) ??
    fit((label) => line(label, '', '', files)) ??
    fit((label) => line(label, '', '', '')) ??
    line('', '', '', '').trimStart().slice(0, width)
  );
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
