// Byte-safe paths: a file name is whatever bytes the kernel allows (not UTF-8, newlines), so every name
// read from disk stays a Buffer and becomes a string only to be shown. Node's fs takes Buffer paths.
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { isUtf8 } from 'node:buffer';

export type BytePath = Buffer;

const SLASH = Buffer.from('/');

// A path as bytes (strings from the configuration are UTF-8).
export function toBytes(value: string | Buffer): BytePath {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

// dir + '/' + name, as bytes.
export function joinBytes(dir: BytePath, ...names: Array<BytePath | string>): BytePath {
  let result = dir;
  for (const raw of names) {
    const name = toBytes(raw);
    const needsSlash = result.length > 0 && result[result.length - 1] !== 0x2f;
    const trimmed = name.length > 0 && name[0] === 0x2f ? name.subarray(1) : name;
    result = Buffer.concat(needsSlash ? [result, SLASH, trimmed] : [result, trimmed]);
  }
  return result;
}

// The parent directory of an absolute path, as bytes.
export function dirnameBytes(file: BytePath): BytePath {
  let end = file.length;
  while (end > 1 && file[end - 1] === 0x2f) end--;
  const slash = file.lastIndexOf(0x2f, end - 1);
  if (slash <= 0) return Buffer.from('/');
  return file.subarray(0, slash);
}

// The names in a directory, as bytes, in byte order.
export function listNames(dir: BytePath): BytePath[] {
  return (readdirSync(dir, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare);
}

// lstat that answers undefined for a missing path.
export function lstatOrUndefined(file: BytePath): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

// True when `child` is `dir` or lies below it (both absolute, as bytes).
export function withinBytes(child: BytePath, dir: BytePath): boolean {
  const base = dir.length > 1 && dir[dir.length - 1] === 0x2f ? dir.subarray(0, -1) : dir;
  if (child.equals(base)) return true;
  if (base.length === 1 && base[0] === 0x2f) return child.length > 0 && child[0] === 0x2f;
  return child.length > base.length && child[base.length] === 0x2f && child.subarray(0, base.length).equals(base);
}

// A path for messages: UTF-8 as is, any other byte as \xNN, control characters escaped.
export function showPath(file: BytePath | string): string {
  const bytes = toBytes(file);
  if (isUtf8(bytes)) return escapeControls(bytes.toString('utf8'));
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const length = utf8Length(bytes, i);
    if (length > 0) {
      out += escapeControls(bytes.subarray(i, i + length).toString('utf8'));
      i += length;
    } else {
      out += `\\x${bytes[i].toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

// A lossless text key of a path: the UTF-8 string when the bytes are UTF-8, else `b64:` and base64
// (an absolute path never starts with `b64:`), for JSON files and maps.
export function pathKey(file: BytePath): string {
  return isUtf8(file) ? file.toString('utf8') : `b64:${file.toString('base64')}`;
}

// The bytes of a pathKey.
export function fromPathKey(key: string): BytePath {
  return key.startsWith('b64:') ? Buffer.from(key.slice(4), 'base64') : Buffer.from(key, 'utf8');
}

// Length of a valid UTF-8 sequence starting at i, or 0.
function utf8Length(bytes: Buffer, i: number): number {
  for (const length of [1, 2, 3, 4]) {
    if (i + length > bytes.length) return 0;
    if (isUtf8(bytes.subarray(i, i + length))) return length;
  }
  return 0;
}

// Newlines, tabs and other control characters as visible escapes.
function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
