// Checks of dump files without a server, for the restore drill: each format's own end-of-dump mark or
// table of contents, so a truncated or damaged dump is found before anyone needs it.
import { open, stat } from 'node:fs/promises';
import { LifeboatError } from '../errors.js';
import { runToolText } from './process.js';
import type { EngineContext } from './types.js';

// The last `bytes` bytes of a file, as text.
async function tail(file: string, bytes: number): Promise<string> {
  const { size } = await stat(file);
  const handle = await open(file, 'r');
  try {
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

// A text dump must end with the tool's completion mark (written only after the last statement).
export async function checkTrailer(file: string, label: string, mark: RegExp, tool: string): Promise<string> {
  const { size } = await stat(file);
  if (size === 0) throw new LifeboatError('DATABASE', `${label}: the dump ${file} is empty`);
  if (!mark.test(await tail(file, 512))) {
    throw new LifeboatError('DATABASE', `${label}: the dump ${file} does not end with ${tool}'s completion mark: it is truncated (or was written with --skip-comments)`);
  }
  return `${size} bytes, complete`;
}

// A pg_dump custom-format archive: pg_restore --list reads its table of contents, then every entry is read.
export async function checkPgArchive(file: string, label: string, ctx: EngineContext): Promise<string> {
  const entries = await countPgEntries(file, label, ctx);
  // The table of contents comes first; reading every data block into /dev/null finds a truncated end.
  await runToolText({ file: 'pg_restore', args: ['--file=/dev/null', file], label: `${label} (dump ${file})` }, ctx);
  return entries === 0 ? EMPTY_ARCHIVE : `${entries} archive entries, all readable`;
}

// What the drill says of an archive without entries: pg_dump (15) writes none for a database that holds
// nothing yet (a new module's), and an archive cut inside its table of contents fails pg_restore --list.
export const EMPTY_ARCHIVE = '0 archive entries (the database was empty when it was dumped)';

// The number of entries in a pg_dump archive's table of contents (pg_restore --list).
export async function countPgEntries(file: string, label: string, ctx: EngineContext): Promise<number> {
  const list = await runToolText({ file: 'pg_restore', args: ['--list', file], label: `${label} (dump ${file})` }, ctx);
  return list.split('\n').filter((line) => /^\d+;/.test(line)).length;
}
