// The load entry check: a file given as a dump of one engine must plainly be one, judged by its first
// bytes (README "Databases"), before any server is asked anything. pg_dump's custom format starts with
// "PGDMP", SQLite files with "SQLite format 3\0", Lifeboat's Redis dumps with "LIFEBOAT-REDIS/1\n";
// pg_dumpall writes "-- PostgreSQL database cluster dump" in its first lines, and mariadb-dump its
// "-- Host: ... Database: ..." line within the first 16 (mysql-lines.ts reads the rest of the dump).
// Anything else (a file of another engine, an archive, random bytes, a text file) is refused with exit 2:
// nothing was loaded and the live database is untouched.
import { existsSync } from 'node:fs';
import { LifeboatError } from '../errors.js';
import { fileHead, HEADER_BYTES, peekStream } from './pg-archive.js';
import { DUMP_DIR, EXTENSIONS } from './names.js';
import type { LoadJob, LoadSource } from './types.js';

// A kind of dump file: how to tell it, and what it is called in the message.
interface DumpKind {
  expected: string;
  // true: it is one; false: it plainly is not; undefined: the head alone cannot tell (the engine's own
  // checks then read on).
  matches(head: Buffer, whole: boolean): boolean | undefined;
}

const startsWith = (magic: string) => (head: Buffer) => head.subarray(0, magic.length).equals(Buffer.from(magic, 'latin1'));

// mariadb-dump's header line within its first lines; the head without it is not a dump when it is the
// whole file or already holds that many lines, or when it holds a NUL byte.
const MYSQL_HEADER_WITHIN = 16;
function mysqlHeader(head: Buffer, whole: boolean): boolean | undefined {
  // mariadb-dump writes a NUL byte of the data as \0: a raw one is a binary file (SQLite's, an archive).
  if (head.includes(0)) return false;
  const lines = head.toString('latin1').split('\n');
  const complete = whole ? lines : lines.slice(0, -1);
  if (complete.slice(0, MYSQL_HEADER_WITHIN).some((line) => line.startsWith('-- Host: '))) return true;
  return whole || complete.length >= MYSQL_HEADER_WITHIN ? false : undefined;
}

const KINDS = {
  pgdump: { expected: 'a pg_dump custom-format archive (one starts with "PGDMP")', matches: startsWith('PGDMP') },
  globals: {
    expected: 'a pg_dumpall --globals-only file (one holds "-- PostgreSQL database cluster dump" in its first lines)',
    matches: (head: Buffer, whole: boolean) => (head.includes(0) ? false : head.toString('latin1').split('\n').slice(0, 8).includes('-- PostgreSQL database cluster dump') ? true : whole || head.length >= HEADER_BYTES ? false : undefined),
  },
  mysql: { expected: `a mariadb-dump file (one has its "-- Host: ... Database: ..." line within the first ${MYSQL_HEADER_WITHIN} lines)`, matches: mysqlHeader },
  redis: { expected: 'a Lifeboat Redis dump (one starts with "LIFEBOAT-REDIS/1")', matches: startsWith('LIFEBOAT-REDIS/1\n') },
  sqlite: { expected: 'an SQLite database file (one starts with "SQLite format 3")', matches: startsWith('SQLite format 3\0') },
} satisfies Record<string, DumpKind>;

// The kind a load job reads, from its engine and file name.
function kindOf(job: Pick<LoadJob, 'engine' | 'file'>): DumpKind | undefined {
  if (job.engine === 'postgres') return job.file.endsWith(EXTENSIONS.postgres) ? KINDS.pgdump : job.file.endsWith(`/globals${EXTENSIONS.postgresGlobals}`) ? KINDS.globals : undefined;
  return KINDS[job.engine];
}

// The first bytes as a person reads them: printable ASCII as is, anything else as \xHH.
function shown(head: Buffer): string {
  const bytes = [...head.subarray(0, 16)];
  return bytes.map((byte) => (byte === 10 ? '\\n' : byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`)).join('');
}

// Refuses a source that plainly is not the job's kind of dump (USAGE, exit 2); returns the source to load,
// a stream with its first bytes put back.
export async function checkDumpKind(job: Pick<LoadJob, 'engine' | 'file' | 'label'>, source: LoadSource): Promise<LoadSource> {
  const kind = kindOf(job);
  if (!kind) return source;
  let head: Buffer;
  let whole: boolean;
  let next = source;
  if ('path' in source) {
    if (!existsSync(source.path)) return source; // the engine names the missing file
    head = await fileHead(source.path);
    whole = head.length < HEADER_BYTES;
  } else {
    const peeked = await peekStream(source.stream);
    head = peeked.head;
    whole = head.length < HEADER_BYTES;
    next = { stream: peeked.stream };
  }
  if (kind.matches(head, whole) !== false) return next;
  if ('stream' in next) next.stream.destroy();
  const what = 'path' in source ? `the dump ${source.path}` : 'the dump on stdin';
  const start = head.length === 0 ? 'it is empty' : `it starts with "${shown(head)}"`;
  throw new LifeboatError('USAGE', `${job.label}: ${what} is not ${kind.expected}: ${start}; nothing was loaded`, {
    hint: `give a dump of this database made by its backup (${DUMP_DIR}/${job.file} in the module's state dir) or by \`lifeboat dump ${job.engine}\``,
  });
}

// A load job whose load first makes the entry check.
export function withDumpKindCheck(job: LoadJob): LoadJob {
  return { ...job, load: async (source, ctx) => job.load(await checkDumpKind(job, source), ctx) };
}
