// Mount points, read from /proc/self/mountinfo: an in-place restore restores *into* a mount point (it
// can be neither removed nor renamed, and a rename cannot cross into it), so each mount point below a
// restored path is swapped on its own file system.
import { readFileSync } from 'node:fs';
import { withinBytes, type BytePath } from './byte-path.js';

// Every mount point of this process's mount namespace, as bytes (mountinfo escapes space, tab, newline
// and backslash as \ooo octal).
export function mountPoints(): BytePath[] {
  let text: Buffer;
  try {
    text = readFileSync('/proc/self/mountinfo');
  } catch {
    return [];
  }
  const points: BytePath[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(0x0a, start);
    if (end < 0) end = text.length;
    const fields = splitSpaces(text.subarray(start, end));
    if (fields.length > 4) points.push(unescapeOctal(fields[4]));
    start = end + 1;
  }
  return points;
}

// Mount points strictly below `dir`.
export function mountsBelow(dir: BytePath, points: BytePath[] = mountPoints()): BytePath[] {
  return points.filter((point) => !point.equals(dir) && withinBytes(point, dir));
}

// True when `file` is itself a mount point.
export function isMountPoint(file: BytePath, points: BytePath[] = mountPoints()): boolean {
  return points.some((point) => point.equals(file));
}

function splitSpaces(line: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line[i] === 0x20) {
      if (i > start) fields.push(line.subarray(start, i));
      start = i + 1;
    }
  }
  return fields;
}

function unescapeOctal(field: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < field.length; i++) {
    if (field[i] === 0x5c && i + 3 < field.length + 0 && /^[0-7]{3}$/.test(field.subarray(i + 1, i + 4).toString('latin1'))) {
      out.push(parseInt(field.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else out.push(field[i]);
  }
  return Buffer.from(out);
}
