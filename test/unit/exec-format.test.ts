// Whether run-parts would get ENOEXEC for a file that is neither "#!" nor ELF: the binfmt_misc entries
// the kernel shows in /proc/sys/fs/binfmt_misc, as parsed, and which files they claim. (This machine
// registers none, so the entries are given as the kernel prints them; #! and ELF are tested against
// Debian's run-parts in run-parts-cli.test.ts.)
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDamagedElf, isExecFormatError, matchesBinfmtEntries, parseBinfmtEntry } from '../../src/parts/run-parts/exec-format.js';
import { readFileSync } from 'node:fs';
import { tmpDir } from '../helpers/tmp.js';

const QEMU_ARM = 'enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n';
const WINE = 'enabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n';

const name = (text: string) => Buffer.from(text, 'utf8');
const bytes = (...values: number[]) => Buffer.from(values);

describe('binfmt_misc entries', () => {
  it('parses a magic entry with its mask and offset, and an extension entry without the dot', () => {
    expect(parseBinfmtEntry(QEMU_ARM)).toStrictEqual({
      offset: 0,
      magic: Buffer.from('7f454c4601010100000000000000000002002800', 'hex'),
      mask: Buffer.from('ffffffffffffff00fffffffffffffffffeffffff', 'hex'),
    });
    expect(parseBinfmtEntry(WINE)).toStrictEqual({ offset: 0, ext: 'exe' });
    // only a leading dot is dropped
    expect(parseBinfmtEntry('enabled\nextension tar.gz\n')).toStrictEqual({ offset: 0, ext: 'tar.gz' });
    expect(parseBinfmtEntry('enabled\ninterpreter /bin/x\noffset 12\nmagic cafe\n')).toStrictEqual({ offset: 12, magic: bytes(0xca, 0xfe) });
  });

  it('skips a disabled entry', () => {
    expect(parseBinfmtEntry(WINE.replace('enabled', 'disabled'))).toBeUndefined();
    expect(parseBinfmtEntry(`\n${WINE}`)).toBeUndefined();
  });

  it('claims a file by its extension: the part after the last dot of the whole name, in bytes', () => {
    const wine = [parseBinfmtEntry(WINE)!];
    expect(matchesBinfmtEntries(name('/etc/hooks/setup.exe'), bytes(), wine)).toBe(true);
    expect(matchesBinfmtEntries(name('/etc/hooks/setup.exe.old'), bytes(), wine)).toBe(false);
    expect(matchesBinfmtEntries(name('/etc/hooks/setupexe'), bytes(), wine)).toBe(false);
    expect(matchesBinfmtEntries(name('/etc/hooks.exe/setup'), bytes(), wine)).toBe(false);
    // a name that is only the extension has no dot; a name that is only the dot and extension has one at 0
    expect(matchesBinfmtEntries(name('exe'), bytes(), wine)).toBe(false);
    expect(matchesBinfmtEntries(name('.exe'), bytes(), wine)).toBe(true);
    expect(matchesBinfmtEntries(name('/etc/hooks/é.prog'), bytes(), [{ offset: 0, ext: 'prog' }])).toBe(true);
    expect(matchesBinfmtEntries(name('/etc/hooks/a.é'), bytes(), [{ offset: 0, ext: 'é' }])).toBe(true);
    expect(matchesBinfmtEntries(name('/etc/hooks/a.e'), bytes(), [{ offset: 0, ext: 'é' }])).toBe(false);
  });

  it('claims a file by magic bytes at the offset, under the mask', () => {
    const head = bytes(0x00, 0x11, 0xca, 0xfe, 0x22);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 2, magic: bytes(0xca, 0xfe) }])).toBe(true);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 1, magic: bytes(0xca, 0xfe) }])).toBe(false);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 0, magic: bytes(0xca, 0xfe) }])).toBe(false);
    // the mask clears bits before comparing
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 2, magic: bytes(0xca, 0xf0), mask: bytes(0xff, 0xf0) }])).toBe(true);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 2, magic: bytes(0xca, 0xf0) }])).toBe(false);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 2, magic: bytes(0x0a, 0xfe), mask: bytes(0x0f, 0xff) }])).toBe(true);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 2, magic: bytes(0xca, 0xfe), mask: bytes(0xff, 0x0f) }])).toBe(false);
    // the last byte counts too
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 2, magic: bytes(0xca, 0xfe, 0x23) }])).toBe(false);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 2, magic: bytes(0xca, 0xfe, 0x22) }])).toBe(true);
  });

  it('a file shorter than offset + magic is not claimed by that entry, but a later entry may claim it', () => {
    const head = bytes(0xca, 0xfe);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 1, magic: bytes(0xfe, 0x00) }])).toBe(false);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 0, magic: bytes(0xca, 0xfe) }])).toBe(true);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 1, magic: bytes(0xfe, 0x00) }, { offset: 0, magic: bytes(0xca) }])).toBe(true);
    expect(matchesBinfmtEntries(name('/p'), head, [{ offset: 0, magic: bytes(0x00) }, { offset: 1, magic: bytes(0xfe) }])).toBe(true);
  });

  it('an entry with neither extension nor magic claims nothing; no entries claim nothing', () => {
    expect(matchesBinfmtEntries(name('/p.exe'), bytes(0xca), [{ offset: 0 }])).toBe(false);
    expect(matchesBinfmtEntries(name('/p.exe'), bytes(0xca), [])).toBe(false);
    // an extension entry never looks at the bytes
    expect(matchesBinfmtEntries(name('/p'), bytes(0xca), [{ offset: 0, ext: 'exe', magic: bytes(0xca) }])).toBe(false);
  });
});

describe('isExecFormatError on files whose first bytes are close to "#!" or ELF', () => {
  it('runs exactly "#!" and exactly the ELF magic; a byte off either way is an exec format error', async () => {
    const dir = await tmpDir();
    const cases: Array<[string, Buffer, boolean]> = [
      ['shebang-only', Buffer.from('#!'), false],
      // the magic alone is an ELF header cut short: the kernel refuses it (ENOEXEC), as Debian's run-parts reports
      ['elf-magic-only', bytes(0x7f, 0x45, 0x4c, 0x46), true],
      ['elf-whole-header', readFileSync('/bin/true').subarray(0, 64), false],
      ['bang-hash', Buffer.from('!#/bin/sh\n'), true],
      ['hash-x', Buffer.from('#x/bin/sh\n'), true],
      ['x-bang', Buffer.from('x!/bin/sh\n'), true],
      ['elg', bytes(0x7f, 0x45, 0x4c, 0x47, 0x02), true],
      ['elf-late', bytes(0x00, 0x7f, 0x45, 0x4c, 0x46), true],
      ['empty', Buffer.alloc(0), true],
    ];
    for (const [file, content] of cases) writeFileSync(path.join(dir, file), content);
    expect(cases.map(([file]) => [file, isExecFormatError(Buffer.from(path.join(dir, file)))])).toEqual(cases.map(([file, , expected]) => [file, expected]));
  });
});

describe('an ELF header the kernel refuses at once', () => {
  const real = readFileSync('/bin/true');
  it('is a whole binary\'s header: fine', () => {
    expect(isDamagedElf(real.subarray(0, 256))).toBe(false);
    expect(isDamagedElf(real.subarray(0, 64))).toBe(false);
  });
  it('is damaged when cut before the end of its header, or with an unknown class, byte order or version', () => {
    expect(isDamagedElf(real.subarray(0, 63))).toBe(true);
    expect(isDamagedElf(real.subarray(0, 6))).toBe(true);
    for (const [offset, value] of [[4, 3], [4, 0], [5, 0], [5, 3], [6, 2]]) {
      const head = Buffer.from(real.subarray(0, 64));
      head[offset] = value;
      expect(isDamagedElf(head), `byte ${offset} = ${value}`).toBe(true);
    }
    // a 32-bit header is complete at 52 bytes
    const elf32 = Buffer.from(real.subarray(0, 52));
    elf32[4] = 1;
    expect(isDamagedElf(elf32)).toBe(false);
    expect(isDamagedElf(elf32.subarray(0, 51))).toBe(true);
  });
  it('is not an ELF question for other files', () => {
    expect(isDamagedElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });
});
