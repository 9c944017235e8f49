// The logger: plain lines on stderr (journald-friendly), levels, module/part prefixes, secret masking.
import { escapeControl } from './control.js';
import { Masker } from './mask.js';

export type Level = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface LogSink {
  write(line: string): void;
}

export class Logger {
  readonly masker: Masker;
  private readonly level: Level;
  private readonly prefix: string;
  private readonly sink: LogSink;
  private readonly tail: string[];

  // One root logger per process; child() adds a `module/part` prefix and shares masker and tail.
  constructor(options: { level?: Level; prefix?: string; masker?: Masker; sink?: LogSink; tail?: string[] } = {}) {
    this.level = options.level ?? 'info';
    this.prefix = options.prefix ?? '';
    this.masker = options.masker ?? new Masker();
    this.sink = options.sink ?? { write: (line) => process.stderr.write(line) };
    this.tail = options.tail ?? [];
  }

  child(prefix: string): Logger {
    const joined = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    return new Logger({ level: this.level, prefix: joined, masker: this.masker, sink: this.sink, tail: this.tail });
  }

  error(message: string): void {
    this.log('error', message);
  }
  warn(message: string): void {
    this.log('warn', message);
  }
  info(message: string): void {
    this.log('info', message);
  }
  debug(message: string): void {
    this.log('debug', message);
  }

  // True when debug lines are printed (-v); used to decide whether to echo child commands.
  get verbose(): boolean {
    return RANK[this.level] >= RANK.debug;
  }

  // The last lines logged (masked), for failure notifications.
  recent(count = 50): string[] {
    return this.tail.slice(-count);
  }

  // Masks secrets, then writes each line with its control characters escaped (ESC shows as \x1b).
  log(level: Level, message: string): void {
    const masked = this.masker.mask(message);
    for (const raw of masked.split(/\r?\n/)) {
      const text = escapeControl(raw);
      const tag = level === 'info' ? '' : `${level}: `;
      const line = this.prefix ? `[${this.prefix}] ${tag}${text}` : `${tag}${text}`;
      this.tail.push(line);
      if (this.tail.length > 200) this.tail.shift();
      if (RANK[level] <= RANK[this.level]) this.sink.write(`${line}\n`);
    }
  }
}
