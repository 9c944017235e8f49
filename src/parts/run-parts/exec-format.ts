// Whether execve() would fail with ENOEXEC. libuv runs scripts through glibc's execvp(), which
// would then run /bin/sh on the file; run-parts uses execv() and reports "Exec format error".
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { toBytes } from './output.js';

// Used before each spawn: true when the file is neither "#!", ELF, nor claimed by a binfmt_misc entry.
export function isExecFormatError(path: Buffer): boolean {
  let head: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(256);
      head = head.subarray(0, readSync(fd, head, 0, 256, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false; // unreadable (execute-only): let the kernel decide
  }
  if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) return false; // "#!"
  if (head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46) return isDamagedElf(head); // ELF
  return !matchesBinfmtMisc(path, head);
}

// An ELF file the kernel refuses at once (ENOEXEC) whatever the machine: its header cut short (a partial
// copy, a full disk), or a class, byte order or version that no ELF has. `head`: the file's first bytes
// (at least 64 when the file has them). glibc's execvp would run /bin/sh on such a file ("ELF: not found").
export function isDamagedElf(head: Buffer): boolean {
  if (head.length < 4 || head.readUInt32BE(0) !== 0x7f454c46) return false;
  if (head.length < 7) return true;
  const elfClass = head[4];
  if ((elfClass !== 1 && elfClass !== 2) || (head[5] !== 1 && head[5] !== 2) || head[6] !== 1) return true;
  return head.length < (elfClass === 2 ? 64 : 52);
}

export interface BinfmtEntry {
  offset: number;
  magic?: Buffer;
  mask?: Buffer;
  ext?: string;
}
let binfmt: BinfmtEntry[] | null = null;

// Used the first time a file is neither "#!" nor ELF: the enabled entries of /proc/sys/fs/binfmt_misc.
function readBinfmtMisc(): BinfmtEntry[] {
  const entries: BinfmtEntry[] = [];
  const dir = '/proc/sys/fs/binfmt_misc';
  try {
    if (readFileSync(`${dir}/status`, 'utf8').trim() === 'enabled') {
      for (const e of readdirSync(dir)) {
        if (e === 'status' || e === 'register') continue;
        const entry = parseBinfmtEntry(readFileSync(`${dir}/${e}`, 'utf8'));
        if (entry) entries.push(entry);
      }
    }
  } catch {
    // not mounted: only #! and ELF are executable
  }
  return entries;
}

// One entry file of /proc/sys/fs/binfmt_misc as the kernel shows it ("enabled", "interpreter ...",
// "offset N", "magic HEX", "mask HEX" or "extension .EXT"); undefined when the entry is disabled.
export function parseBinfmtEntry(text: string): BinfmtEntry | undefined {
  const lines = text.split('\n');
  if (lines[0] !== 'enabled') return undefined;
  const get = (k: string) => lines.find((l) => l.startsWith(k + ' '))?.slice(k.length + 1);
  const ext = get('extension');
  const magic = get('magic');
  const mask = get('mask');
  return {
    offset: Number(get('offset') ?? 0),
    ...(ext !== undefined ? { ext: ext.replace(/^\./, '') } : {}),
    ...(magic !== undefined ? { magic: Buffer.from(magic, 'hex') } : {}),
    ...(mask !== undefined ? { mask: Buffer.from(mask, 'hex') } : {}),
  };
}

// Used for files without "#!" or ELF magic: would the kernel hand them to a binfmt_misc interpreter?
function matchesBinfmtMisc(path: Buffer, head: Buffer): boolean {
  binfmt ??= readBinfmtMisc();
  return matchesBinfmtEntries(path, head, binfmt);
}

// Whether one of the entries claims the file: by its name's extension, or by the magic bytes (under the
// mask) at the entry's offset in the file's first bytes `head`.
export function matchesBinfmtEntries(path: Buffer, head: Buffer, entries: BinfmtEntry[]): boolean {
  const p = path.toString('latin1');
  for (const f of entries) {
    if (f.ext !== undefined) {
      const dot = p.lastIndexOf('.');
      if (dot >= 0 && p.slice(dot + 1) === toBytes(f.ext)) return true;
    } else if (f.magic) {
      if (head.length < f.offset + f.magic.length) continue;
      let ok = true;
      for (let i = 0; i < f.magic.length && ok; i++) {
        const m = f.mask ? f.mask[i]! : 0xff;
        ok = (head[f.offset + i]! & m) === f.magic[i];
      }
      if (ok) return true;
    }
  }
  return false;
}
