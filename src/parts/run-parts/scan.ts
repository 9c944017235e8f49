// Which directory entries are parts, and in which order: run-parts' scandir(dir, valid_name,
// alphasort), with the --debug lines it prints while checking names.
import { opendirSync, readdirSync } from 'node:fs';
import { compareBytes, isLsbName, DEFAULT_NAME_RE, LSB_HIER_RE, LSB_EXCLUDE_RE } from '../names.js';
import type { NameMode, Settings } from './options.js';
import { describeErrno, printError, toBuffer, toBytes, writeStderr } from './output.js';

/** Whether a name (a byte string) passes the selected rule. */
export type NameFilter = (name: string) => boolean;

// Used once options are parsed; null after printing glibc's message for a bad --regex.
export async function createNameFilter(st: Settings): Promise<NameFilter | null> {
  if (st.mode === 'lsb') return isLsbName;
  if (st.mode === 'normal') return (n) => DEFAULT_NAME_RE.test(n);
  // Loaded only for --regex, so the common case does not parse the ERE port at start-up.
  const { compileEre, RegError } = await import('./regex.js');
  let re: RegExp;
  try {
    re = compileEre(toBytes(st.customEre));
  } catch (e) {
    if (!(e instanceof RegError)) throw e;
    writeStderr(`Unable to build regexp: ${e.message}\n`);
    return null;
  }
  return (n) => re.test(n);
}

// Used for --debug: the line run-parts prints for each name it checks, naming the rule that decided.
function formatDebugLine(name: string, mode: NameMode, ok: boolean): string {
  const pf = (b: boolean) => (b ? 'pass' : 'fail');
  if (mode === 'ere') return `"${name}": customre ${pf(ok)}\n`;
  if (mode === 'normal') return `"${name}": classicalre ${pf(ok)}\n`;
  return LSB_HIER_RE.test(name) ? `"${name}": hierre pass, excsre ${pf(!LSB_EXCLUDE_RE.test(name))}\n` : `"${name}": tradre ${pf(ok)}\n`;
}

// Used before anything runs: the names that pass, in byte order (reversed for --reverse); null after
// printing "failed to open directory".
export function scanDirectory(st: Settings, valid: NameFilter): string[] | null {
  const dir = st.directory;
  let entries: string[];
  try {
    if (st.debug) {
      entries = [];
      const d = opendirSync(toBuffer(dir), { encoding: 'buffer' as BufferEncoding });
      for (let e; (e = d.readSync()); ) entries.push((e.name as unknown as Buffer).toString('latin1'));
      d.closeSync();
    } else {
      entries = (readdirSync(toBuffer(dir), { encoding: 'buffer' }) as Buffer[]).map((b) => b.toString('latin1'));
    }
  } catch (e) {
    printError(`failed to open directory ${dir}: ${describeErrno(e)}`);
    return null;
  }
  const names: string[] = [];
  if (st.debug) for (const n of ['.', '..']) writeStderr(formatDebugLine(n, st.mode, valid(n)));
  for (const n of entries) {
    const ok = valid(n);
    if (st.debug) writeStderr(formatDebugLine(n, st.mode, ok));
    if (ok) names.push(n);
  }
  // "." and ".." can only pass a custom --regex, and are directories: skipped by execute.ts anyway.
  names.sort(compareBytes);
  if (st.reverse) names.reverse();
  return names;
}
