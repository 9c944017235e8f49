// The merge walk's fast path: a file's line of the previous manifest is written again unparsed only
// when it is exactly the line the walk would make (JSON.stringify of the same fields, in order) with a
// sha256; any other line goes the slow way (parsed, compared, hashed when it differs).
import { describe, expect, it } from 'vitest';
import { pathKey } from '../../src/files/byte-path.js';
import { sameFileLine, type FileFields } from '../../src/lifecycle/manifest-stream.js';

const SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// The line the walk writes for a file (entryOf, then its sha256).
function lineOf(want: FileFields, sha256: string | null = SHA): string {
  const { path, mode, size, mtimeMs, ctimeMs, ino, sparse } = want;
  return JSON.stringify({ path, type: 'file', mode, size, mtimeMs, ctimeMs, ino, ...(sparse ? { sparse: true } : {}), sha256 });
}

const base: FileFields = { path: '/srv/data/d0001/f1234.txt', mode: 0o644, size: 123, mtimeMs: 1796019972676, ctimeMs: 1796019972677, ino: 8211920, sparse: false };
const NAMES = [
  '/srv/a "quoted" name',
  '/srv/back\\slash',
  '/srv/new\nline\ttab\x01\x7f',
  '/srv/ünïcödé/日本語/😀',
  pathKey(Buffer.from([0x2f, 0x73, 0xff, 0xfe])),
  '/',
];

describe('sameFileLine', () => {
  it('takes the line the walk would write, for every kind of name and number', () => {
    for (const path of NAMES) expect(sameFileLine(lineOf({ ...base, path }), { ...base, path }), path).toBe(true);
    for (const fields of [{ size: 0 }, { mode: 0 }, { ino: 0 }, { mtimeMs: -5000, ctimeMs: -1 }, { ino: 2 ** 53 + 2 }, { ino: 18446744073709552000 }, { size: 123456789012345 }, { size: 1234567890123456 }, { sparse: true, size: 1 << 20 }]) {
      const want = { ...base, ...fields };
      expect(sameFileLine(lineOf(want), want), JSON.stringify(fields)).toBe(true);
    }
  });

  it('refuses a line that differs in any field, in order or form, or lacks a sha256 in hex', () => {
    const line = lineOf(base);
    for (const [key, value] of [['path', '/srv/data/d0001/f1234.tx'], ['path', '/srv/data/d0001/f1234.txtx'], ['mode', 0o600], ['size', 12], ['size', 1230], ['mtimeMs', 1796019972675], ['ctimeMs', 1796019972678], ['ino', 8211921], ['sparse', true]] as const) {
      expect(sameFileLine(line, { ...base, [key]: value }), `${key} ${value}`).toBe(false);
    }
    const others = [
      lineOf(base, null),
      lineOf(base, SHA.toUpperCase()),
      lineOf(base, SHA.slice(1)),
      lineOf(base, `${SHA}0`),
      line.replace('"mode":420', '"mode":0420'),
      line.replace('"size":123', '"size":123.0'),
      line.replace('"size":123', '"size":1.23e2'),
      line.replace('"mode":420,"size":123', '"size":123,"mode":420'),
      line.replace('"type":"file"', '"type":"dir"'),
      line.replace('f1234', 'f\\u0031234'),
      line.replace('}', ',"extra":1}'),
      `${line} `,
      ` ${line}`,
      lineOf({ ...base, sparse: true }),
    ];
    for (const other of others) expect(sameFileLine(other, base), other).toBe(false);
    expect(sameFileLine(lineOf({ ...base, ino: 2 ** 60 }), { ...base, ino: 2 ** 60 + 1 })).toBe(true); // the same double
    expect(sameFileLine(lineOf({ ...base, ino: 2 ** 60 }), { ...base, ino: 2 ** 61 })).toBe(false);
  });
});
