// The tar format of the provider, with names as bytes: ustar headers plus a pax extended header per
// entry (path and linkpath when they are not short ASCII, mtime with nanoseconds, large ids and sizes,
// SCHILY.xattr.* for extended attributes and ACLs), and `hdrcharset=BINARY` when a name is not UTF-8,
// as POSIX and libarchive (bsdtar) have it; GNU tar warns that it ignores that keyword and keeps the
// bytes, so `tar -xf` of an archive gives the same bytes back. The reader takes pax, GNU long names and
// plain ustar, and keeps every name and value as bytes (byte strings, names.ts).
import { isUtf8 } from 'node:buffer';
import { LifeboatError } from '../../src/errors.js';
import { fromBuffer, toBuffer } from './names.js';

export type EntryType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

export interface TarHeader {
  // The path inside the archive as a byte string, without leading or trailing /.
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  // Seconds since the epoch, as a pax decimal with up to 9 fraction digits.
  mtime: string;
  // A symlink's target or a hard link's archive path (byte string).
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  // Extended attributes (system.posix_acl_* included): name -> value, both byte strings.
  xattrs?: Map<string, string>;
}

export interface TarEntry {
  header: TarHeader;
  // The entry's data; whatever the consumer leaves unread is skipped.
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;
const MAX_META = 8 << 20;
const TYPEFLAGS: Record<EntryType, string> = { file: '0', link: '1', symlink: '2', 'character-device': '3', 'block-device': '4', directory: '5', fifo: '6' };
const TYPES: Record<string, EntryType> = { '\0': 'file', '0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory', '6': 'fifo' };

// The blocks that start an entry: a pax header (records and its own ustar block) and the ustar block.
export function encodeHeader(header: TarHeader): Buffer {
  const name = header.type === 'directory' ? `${header.name}/` : header.name;
  const records: Array<[string, string]> = [];
  const fitsUstar = (bytes: string) => bytes.length <= 100 && /^[\x01-\x7f]*$/.test(bytes);
  if (!fitsUstar(name)) records.push(['path', name]);
  if (header.linkname !== undefined && !fitsUstar(header.linkname)) records.push(['linkpath', header.linkname]);
  if (records.some(([, value]) => !isUtf8(toBuffer(value)))) records.unshift(['hdrcharset', 'BINARY']);
  records.push(['mtime', header.mtime]);
  if (header.uid > 0o7777777) records.push(['uid', String(header.uid)]);
  if (header.gid > 0o7777777) records.push(['gid', String(header.gid)]);
  if (header.size > 0o77777777777) records.push(['size', String(header.size)]);
  for (const [key, value] of header.xattrs ?? []) records.push([`SCHILY.xattr.${key}`, value]);
  const pax = Buffer.concat(records.map(([key, value]) => paxRecord(key, value)));
  const paxBlock = ustarBlock({ name: placeholder(`PaxHeaders/${name}`), typeflag: 'x', mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: 0 });
  const main = ustarBlock({
    name: fitsUstar(name) ? name : placeholder(name),
    typeflag: TYPEFLAGS[header.type],
    mode: header.mode,
    uid: header.uid > 0o7777777 ? 0 : header.uid,
    gid: header.gid > 0o7777777 ? 0 : header.gid,
    size: header.type === 'file' ? header.size : 0,
    mtime: Math.max(0, Math.floor(Number(header.mtime))),
    linkname: header.linkname === undefined ? undefined : fitsUstar(header.linkname) ? header.linkname : placeholder(header.linkname),
    devmajor: header.devmajor,
    devminor: header.devminor,
  });
  return Buffer.concat([paxBlock, pax, padding(pax.length), main]);
}

// The zero bytes that fill an entry's data up to a whole block.
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

// The two zero blocks that end an archive.
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

// An ASCII stand-in (at most 100 bytes) for the ustar name field when pax holds the real name.
function placeholder(bytes: string): string {
  return bytes.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
}

// One pax record: "<length> <key>=<value>\n", the length counting itself.
function paxRecord(key: string, value: string): Buffer {
  const body = toBuffer(` ${key}=${value}\n`);
  let length = body.length + String(body.length).length;
  if (String(length).length !== String(length - body.length).length) length = body.length + String(length).length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

interface UstarFields {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

// One 512-byte ustar header block with its checksum.
function ustarBlock(fields: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'latin1');
  writeOctal(block, fields.mode & 0o7777, 100, 8);
  writeOctal(block, fields.uid, 108, 8);
  writeOctal(block, fields.gid, 116, 8);
  if (fields.size > 0o77777777777) writeBase256(block, fields.size, 124, 12);
  else writeOctal(block, fields.size, 124, 12);
  writeOctal(block, Math.min(fields.mtime, 0o77777777777), 136, 12);
  block.write(fields.typeflag, 156, 1, 'latin1');
  if (fields.linkname) block.write(fields.linkname, 157, 100, 'latin1');
  block.write('ustar\u000000', 257, 8, 'latin1');
  writeOctal(block, fields.devmajor ?? 0, 329, 8);
  writeOctal(block, fields.devminor ?? 0, 337, 8);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return block;
}

// A zero-padded octal number ending in NUL.
function writeOctal(block: Buffer, value: number, offset: number, width: number): void {
  block.write(`${Math.max(0, value).toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'latin1');
}

// GNU's base-256 form for numbers too large for octal (first byte 0x80).
function writeBase256(block: Buffer, value: number, offset: number, width: number): void {
  let rest = BigInt(value);
  for (let i = offset + width - 1; i > offset; i--) {
    block[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  block[offset] = 0x80;
}

// Reads exact byte counts from an async stream of chunks.
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  constructor(private readonly source: AsyncIterator<Buffer | Uint8Array>) {}

  // Pulls one more chunk; false at the end of the stream.
  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    return true;
  }

  // Exactly n bytes; undefined at a clean end of the stream.
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buffered < n) {
      if (!(await this.fill())) {
        if (this.buffered === 0) return undefined;
        throw truncated();
      }
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return all.subarray(0, n);
  }

  // Up to n bytes, whatever is at hand (at least one).
  async some(n: number): Promise<Buffer> {
    if (this.buffered === 0 && !(await this.fill())) throw truncated();
    const first = this.chunks[0];
    if (first.length <= n) {
      this.chunks.shift();
      this.buffered -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return first.subarray(0, n);
  }

  // Reads and drops everything up to the end of the stream.
  async drain(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (await this.fill()) this.chunks = [];
  }
}

// The error for an archive that stops in the middle of an entry.
function truncated(): LifeboatError {
  return new LifeboatError('PROVIDER', 'the archive ends in the middle of an entry (truncated)');
}

// Parses an archive into entries; names, link targets and pax values stay bytes.
export async function* readTar(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source[Symbol.asyncIterator]());
  let global = new Map<string, string>();
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await reader.read(BLOCK);
    if (!block) throw new LifeboatError('PROVIDER', 'the archive ends without its end-of-archive blocks (truncated)');
    if (block.every((byte) => byte === 0)) break;
    checkSum(block);
    const typeflag = String.fromCharCode(block[156] || 0x30);
    const size = readNumber(block, 124, 12);
    if ('xgLK'.includes(typeflag)) {
      if (size > MAX_META) throw new LifeboatError('PROVIDER', `the archive has an extended header of ${size} bytes (more than ${MAX_META})`);
      const data = (await reader.read(size)) ?? Buffer.alloc(0);
      await reader.read(padding(size).length);
      if (typeflag === 'x') pax = parsePax(data);
      else if (typeflag === 'g') global = new Map([...global, ...parsePax(data)]);
      else if (typeflag === 'L') longName = fromBuffer(cString(data, 0, data.length));
      else longLink = fromBuffer(cString(data, 0, data.length));
      continue;
    }
    const records = new Map([...global, ...pax]);
    const prefix = block.subarray(257, 263).toString('latin1') === 'ustar\u0000' ? fromBuffer(cString(block, 345, 155)) : '';
    const ustarName = fromBuffer(cString(block, 0, 100));
    const rawName = records.get('path') ?? longName ?? (prefix ? `${prefix}/${ustarName}` : ustarName);
    const ustarLink = fromBuffer(cString(block, 157, 100));
    const linkname = records.get('linkpath') ?? longLink ?? (ustarLink || undefined);
    const type = TYPES[typeflag];
    if (!type) throw new LifeboatError('PROVIDER', `the archive has an entry of unknown type "${typeflag}"`);
    const xattrs = new Map([...records].filter(([key]) => key.startsWith('SCHILY.xattr.')).map(([key, value]) => [key.slice('SCHILY.xattr.'.length), value]));
    const dataSize = records.has('size') ? Number(records.get('size')) : size;
    pax = new Map();
    longName = longLink = undefined;
    const header: TarHeader = {
      name: rawName.replace(/\/+$/, ''),
      type,
      mode: readNumber(block, 100, 8),
      uid: records.has('uid') ? Number(records.get('uid')) : readNumber(block, 108, 8),
      gid: records.has('gid') ? Number(records.get('gid')) : readNumber(block, 116, 8),
      size: type === 'file' ? dataSize : 0,
      mtime: records.get('mtime') ?? String(readNumber(block, 136, 12)),
      linkname,
      devmajor: readNumber(block, 329, 8),
      devminor: readNumber(block, 337, 8),
      xattrs: xattrs.size ? xattrs : undefined,
    };
    if (rawName.endsWith('/') && typeflag === '0') header.type = 'directory';
    const bodySize = type === 'file' || type === 'link' ? dataSize : 0;
    let left = bodySize;
    const body = (async function* () {
      while (left > 0) {
        const chunk = await reader.some(Math.min(left, 1 << 20));
        left -= chunk.length;
        yield chunk;
      }
    })();
    yield { header, body };
    while (left > 0) left -= (await reader.some(Math.min(left, 1 << 20))).length;
    await reader.read(padding(bodySize).length);
  }
  await reader.drain();
}

// Checks a header block's checksum (unsigned sum, with the field itself counted as spaces).
function checkSum(block: Buffer): void {
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i];
  if (sum !== readNumber(block, 148, 8)) throw new LifeboatError('PROVIDER', 'the archive has a damaged header (checksum mismatch)');
}

// The bytes of a NUL-terminated field.
function cString(block: Buffer, offset: number, width: number): Buffer {
  const field = block.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return end === -1 ? field : field.subarray(0, end);
}

// An octal (or GNU base-256) number field.
function readNumber(block: Buffer, offset: number, width: number): number {
  const field = block.subarray(offset, offset + width);
  if (field[0] & 0x80) {
    let value = 0n;
    for (let i = 1; i < width; i++) value = (value << 8n) | BigInt(field[i]);
    return Number(value);
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

// pax records as byte strings: "<length> <key>=<value>\n" ...
function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = space === -1 ? NaN : Number(data.subarray(offset, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= space - offset || offset + length > data.length) throw new LifeboatError('PROVIDER', 'the archive has a damaged pax header');
    const record = data.subarray(space + 1, offset + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals === -1) throw new LifeboatError('PROVIDER', 'the archive has a damaged pax header');
    records.set(record.subarray(0, equals).toString('latin1'), fromBuffer(record.subarray(equals + 1)));
    offset += length;
  }
  return records;
}
