// What every database engine (postgres, mysql, redis, sqlite) provides: dump jobs that produce a byte
// stream, and a loader that consumes one. Where the bytes go (a file in the state dir, restic's stdin,
// a FIFO borg reads) is decided by the caller, never by the engine.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { ToolNeed } from '../process/which.js';

export type EngineKind = 'postgres' | 'mysql' | 'redis' | 'sqlite';

// Where an engine runs: the part environment (secrets from env files included), the logger whose masker
// learns every password, and the abort signal of the part (timeout, SIGINT, SIGTERM).
export interface EngineContext {
  env: Record<string, string | undefined>;
  log: Logger;
  signal?: AbortSignal;
  // Scratch space for files that must exist (SQLite's backup copy); the module's state dir in a run.
  workDir: string;
}

// One running dump: its bytes and a promise that settles when the producer has finished. `done` rejects
// (with a message naming the database and the tool's stderr) when the dump failed, even if `stream`
// already ended: a consumer must wait for `done` before it treats the bytes as complete.
export interface DumpRun {
  stream: Readable;
  done: Promise<void>;
  // Stops the producer (SIGTERM, then SIGKILL); `done` then rejects.
  abort(reason?: string): void;
  // True when the producer writes straight into the `output` it was started with (a tool whose stdout is
  // that descriptor): no byte passes through Lifeboat and `stream` is empty. The consumer's end must
  // still stay open until `done` resolved (the caller's own copy of the descriptor keeps it open).
  direct?: boolean;
}

// Where a producer may write directly instead of through `stream`: a pipe or socket stream (a consumer's
// stdin) or an open file descriptor (the write end of a FIFO). A producer that cannot (SQLite, staged)
// ignores it and returns a run without `direct`; Redis's dump runs as a process of its own for it.
export type DumpOutput = Writable | number;

// One dump file of a module, e.g. databases/postgres-app.pgdump.
export interface DumpJob {
  engine: EngineKind;
  // Relative to the module's databases/ folder: `postgres-app.pgdump`, `postgres-all/globals.sql`.
  file: string;
  // Names the database in messages: `PostgreSQL database "app" on 127.0.0.1:5432`.
  label: string;
  // False when the dump must be staged as a file (SQLite's backup API writes one; `stream: false`).
  streamable: boolean;
  // Starts the dump as a stream (every engine but SQLite); with `output`, straight into it when it can.
  start?(ctx: EngineContext, output?: DumpOutput): DumpRun;
  // Writes the dump to `dest` itself (SQLite); otherwise staging pipes start() into the file.
  stage?(dest: string, ctx: EngineContext): Promise<void>;
}

// Where a loader reads a dump: a file (seekable, preferred) or a stream (stdin of `lifeboat load`).
export type LoadSource = { path: string } | { stream: Readable };

// A loader: reads one dump back into the live server.
export interface LoadJob {
  engine: EngineKind;
  // Relative to databases/, as in DumpJob.
  file: string;
  label: string;
  load(source: LoadSource, ctx: EngineContext): Promise<void>;
  // Checks a dump file without a server (the restore drill): resolves with what it found
  // (`12 archive entries`), rejects naming what is wrong (truncated, unreadable).
  check(file: string, ctx: EngineContext): Promise<string>;
  // The restore drill proper: loads the dump into a scratch database (src/engines/scratch.ts), reports what
  // arrived (`2 table(s), 1,200 row(s)`) and removes the scratch again. Absent where the engine has no
  // server to load into (SQLite, PostgreSQL roles) or the entry says `scratch: false`; verify then checks.
  drill?(file: string, ctx: EngineContext): Promise<string>;
}

// What an engine says about itself, beside its code (`<engine>Engine` at the end of its file,
// ARCHITECTURE.md "Database engines"); src/engines/index.ts lists them, one line each. Its keys stay in
// the central schema (src/config/schema/module.schema.json), whose validators are compiled at build time.
export interface EngineDeclaration<C = never> {
  kind: EngineKind;
  // The dump jobs of one `databases:` entry (postgres `all` asks the server which databases there are).
  dumps(config: C, ctx: EngineContext): DumpJob[] | Promise<DumpJob[]>;
  // The load jobs of one entry; `dumpDir` is the databases/ folder the dumps were restored into.
  loads(config: C, dumpDir?: string): LoadJob[];
  // The client tools `check` looks for on PATH.
  tools(config: C): ToolNeed[];
  // `check`: connects like the dump would and says what it found; throws with the reason.
  probe(config: C, ctx: EngineContext): Promise<string>;
}
