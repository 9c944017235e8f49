// run-parts' name rules, byte ordering and the glibc ERE port of --regex (errors checked against Debian's
// run-parts 5.7 on glibc: `run-parts --regex=PATTERN --list DIR` prints the same texts).
import { describe, expect, it } from 'vitest';
import { DEFAULT_NAME_RE, LSB_EXCLUDE_RE, LSB_HIER_RE, LSB_TRAD_RE, compareBytes, isLsbName, isValidName, selectNames, sortNames } from '../../src/parts/names.js';
import { RegError, compileEre } from '../../src/parts/run-parts/regex.js';
import { CLASS_TEST, RE_DUP_MAX, formatClass, formatLiteral, formatNamedClass } from '../../src/parts/run-parts/regex-charset.js';

describe('names', () => {
  it('the default rule: letters, digits, _ and -', () => {
    expect(['a', 'Z9', '10-x_y'].every((n) => DEFAULT_NAME_RE.test(n))).toBe(true);
    expect(['a.sh', '', 'a~', ' a', 'a '].some((n) => DEFAULT_NAME_RE.test(n))).toBe(false);
  });

  it('the LSB rules: hierarchical, dpkg leftovers, traditional', () => {
    expect(isLsbName('foo')).toBe(true);
    expect(isLsbName('foo-bar')).toBe(true);
    expect(isLsbName('_foo-bar')).toBe(true);
    expect(isLsbName('a.b-c')).toBe(true);
    expect(isLsbName('Foo')).toBe(false);
    expect(isLsbName('-foo')).toBe(false);
    expect(isLsbName('foo_bar')).toBe(false);
    expect(isLsbName('foo-bar.dpkg-old')).toBe(false);
    expect(isLsbName('foo-bar.dpkg-new')).toBe(false);
    expect(isLsbName('foo-bar.dpkg-dist')).toBe(false);
    expect(isLsbName('foo-bar.dpkg-tmp')).toBe(false);
    expect(isLsbName('foo-bar.dpkg-bak')).toBe(true);
    expect(LSB_HIER_RE.test('x-y')).toBe(true);
    expect(LSB_HIER_RE.test('xy')).toBe(false);
    expect(LSB_EXCLUDE_RE.test('a.dpkg-old')).toBe(true);
    expect(LSB_EXCLUDE_RE.test('_a.dpkg-old')).toBe(false);
    expect(LSB_EXCLUDE_RE.test('a.dpkg-oldx')).toBe(false);
    expect(LSB_TRAD_RE.test('a-1')).toBe(true);
    expect(LSB_TRAD_RE.test('a_1')).toBe(false);
    expect(LSB_TRAD_RE.test('xa_1')).toBe(false);
  });

  it('isValidName: a custom regex wins over lsbsysinit, and is reset between calls', () => {
    const re = /^x/g;
    expect(isValidName('xa', { regex: re, lsbsysinit: true })).toBe(true);
    expect(isValidName('xa', { regex: re })).toBe(true);
    expect(isValidName('Foo', { lsbsysinit: true })).toBe(false);
    expect(isValidName('Foo')).toBe(true);
    expect(isValidName('foo', { lsbsysinit: true })).toBe(true);
    expect(isValidName('a.b')).toBe(false);
    // the custom regex alone decides: a name the default rule refuses passes, one it takes fails
    expect(isValidName('a.sh', { regex: /\.sh$/ })).toBe(true);
    expect(isValidName('ya', { regex: /^x/ })).toBe(false);
  });

  it('selectNames drops . and .. and invalid names, keeping order', () => {
    expect(selectNames(['b', '.', '..', 'a.sh', 'a'])).toEqual(['b', 'a']);
    expect(selectNames(['.', '..', 'x'], { regex: /.*/ })).toEqual(['x']);
    expect(selectNames(['Foo', 'foo'], { lsbsysinit: true })).toEqual(['foo']);
  });

  it('compareBytes orders like strcmp over UTF-8', () => {
    expect(compareBytes('a', 'a')).toBe(0);
    expect(compareBytes('a', 'b')).toBe(-1);
    expect(compareBytes('b', 'a')).toBe(1);
    expect(compareBytes('a', 'ab')).toBe(-1);
    expect(compareBytes('ab', 'a')).toBe(1);
    expect(compareBytes('B', 'a')).toBe(-1);
    // U+FFFD (EF BF BD) sorts below U+1F600 (F0 9F 98 80), though its UTF-16 unit is larger than a surrogate.
    expect(compareBytes('\ufffd', '\u{1f600}')).toBe(-1);
    expect(compareBytes('\u{1f600}', '\ufffd')).toBe(1);
    expect(compareBytes('\ue000', '\u{10000}')).toBe(-1);
    expect(compareBytes('\ud7ff', '\ue000')).toBe(-1);
    expect(compareBytes('\u{1f600}', '\u{1f601}')).toBe(-1);
    expect(compareBytes('\ud800', '\udfff')).toBe(-1);
    expect(compareBytes('\u{10000}', '\ud7ff')).toBe(1);
    // the first surrogate unit and the first unit above them: a lone U+D800 still sorts above U+E001
    expect(compareBytes('\ud800', '\ue001')).toBe(1);
    expect(compareBytes('\ue001', '\ud800')).toBe(-1);
  });

  it('sortNames sorts a copy, reversed on request', () => {
    const input = ['b', 'a', 'C', '\u{1f600}', '\ufffd'];
    expect(sortNames(input)).toEqual(['C', 'a', 'b', '\ufffd', '\u{1f600}']);
    expect(sortNames(input, true)).toEqual(['\u{1f600}', '\ufffd', 'b', 'a', 'C']);
    expect(input).toEqual(['b', 'a', 'C', '\u{1f600}', '\ufffd']);
  });
});

describe('character classes', () => {
  const members = (name: string) => Array.from({ length: 256 }, (_, c) => c).filter((c) => CLASS_TEST[name]!(c));
  const text = (name: string) => String.fromCharCode(...members(name));
  it('are the C locale\'s', () => {
    expect(text('alpha')).toBe('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
    expect(text('upper')).toBe('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    expect(text('lower')).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(text('digit')).toBe('0123456789');
    expect(text('xdigit')).toBe('0123456789ABCDEFabcdef');
    expect(members('space')).toEqual([9, 10, 11, 12, 13, 32]);
    expect(members('blank')).toEqual([9, 32]);
    expect(members('print')).toEqual(Array.from({ length: 95 }, (_, i) => i + 32));
    expect(members('graph')).toEqual(Array.from({ length: 94 }, (_, i) => i + 33));
    expect(text('punct')).toBe('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
    expect(members('cntrl')).toEqual([...Array.from({ length: 32 }, (_, i) => i), 127]);
    expect(text('alnum')).toBe('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
    expect(RE_DUP_MAX).toBe(32767);
  });

  it('are written as JS classes of hex bytes', () => {
    expect(formatLiteral(97)).toBe('a');
    expect(formatLiteral(48)).toBe('0');
    expect(formatLiteral(46)).toBe('\\x2e');
    expect(formatLiteral(10)).toBe('\\x0a');
    const set = new Array(256).fill(false);
    set[0] = set[1] = set[3] = set[4] = set[5] = set[255] = true;
    expect(formatClass(set)).toBe('[\\x00\\x01\\x03-\\x05\\xff]');
    expect(formatClass(new Array(256).fill(true))).toBe('[\\x00-\\xff]');
    expect(formatNamedClass('digit', false)).toBe('[\\x30-\\x39]');
    expect(formatNamedClass('digit', true, '_')).toBe('[\\x00-\\x2f\\x3a-\\x5e\\x60-\\xff]');
  });
});

describe('compileEre', () => {
  it.each([
    ['abc', 'abc'],
    ['a|b', 'a|b'],
    ['(a)(b)\\2', '(a)(b)(?:\\2)'],
    ['a{2}', 'a{2}'],
    ['a{2,}', 'a{2,}'],
    ['a{,3}', 'a{0,3}'],
    ['a{1,3}', 'a{1,3}'],
    ['a{,}', 'a{0,}'],
    ['a{12,34}', 'a{12,34}'],
    ['^a*$', '(?:^)a*(?:$)'],
    ['\\<ab\\>', '(?:\\b(?=\\w))ab(?:\\b(?<=\\w))'],
    ['\\bx\\B', '(?:\\b)x(?:\\B)'],
    ["\\`a\\'", '(?:^)a(?:$)'],
    ['.', '[^\\x00]'],
    ['\\w\\W\\s\\S', '[\\x30-\\x39\\x41-\\x5a\\x5f\\x61-\\x7a][\\x00-\\x2f\\x3a-\\x40\\x5b-\\x5e\\x60\\x7b-\\xff][\\x09-\\x0d\\x20][\\x00-\\x08\\x0e-\\x1f\\x21-\\xff]'],
    ['[a-c]', '[\\x61-\\x63]'],
    ['[^a]', '[\\x00-\\x60\\x62-\\xff]'],
    ['[]a]', '[\\x5d\\x61]'],
    ['[^]a]', '[\\x00-\\x5c\\x5e-\\x60\\x62-\\xff]'],
    ['[a-]', '[\\x2d\\x61]'],
    ['[[:digit:]]', '[\\x30-\\x39]'],
    ['[[:digit:]x]', '[\\x30-\\x39\\x78]'],
    ['[[.a.]-[.c.]]', '[\\x61-\\x63]'],
    ['[[=a=]]', '[\\x61]'],
    ['[[.-.]]', '[\\x2d]'],
    ['[a-[.z.]]', '[\\x61-\\x7a]'],
    ['[--a]', '[\\x2d-\\x61]'],
    ['[a-a-]', '[\\x2d\\x61]'],
    ['[\\]', '[\\x5c]'],
    ['[[a]', '[\\x5b\\x61]'],
    ['a||b', 'a||b'],
    ['(|a)', '(|a)'],
    ['(a|)', '(a|)'],
    ['a|', 'a|'],
    ['()', '()'],
    ['a)', 'a\\x29'],
    ['}', '\\x7d'],
    ['(a){0}\\1', '(a){0}(?!)'],
    ['(a*)+', '(a*)+'],
    ['a**', '(?:a*)*'],
    ['a{1}{2}', '(?:a{1}){2}'],
    ['a?b+', 'a?b+'],
    ['(a|b)*c', '(a|b)*c'],
    ['\\.', '\\x2e'],
    ['\\(', '\\x28'],
    ['((a)b)\\2\\1', '((a)b)(?:\\2)(?:\\1)'],
    ['(a)(b)(c)(d)(e)(f)(g)(h)(i)\\9', '(a)(b)(c)(d)(e)(f)(g)(h)(i)(?:\\9)'],
    ['a{0}(b)\\1', 'a{0}(b)(?:\\1)'],
    ['(a)x{0}\\1', '(a)x{0}(?:\\1)'],
    ['', ''],
  ])('%s compiles to /%s/', (pattern, source) => {
    expect(compileEre(pattern).source).toBe(source === '' ? '(?:)' : source);
  });

  it.each([
    ['^*', 'Invalid preceding regular expression'],
    ['*a', 'Invalid preceding regular expression'],
    ['+a', 'Invalid preceding regular expression'],
    ['?a', 'Invalid preceding regular expression'],
    ['{1}', 'Invalid preceding regular expression'],
    ['x\\', 'Trailing backslash'],
    ['(a', 'Unmatched ( or \\('],
    ['((a)', 'Unmatched ( or \\('],
    ['\\1', 'Invalid back reference'],
    ['(a\\1)', 'Invalid back reference'],
    ['a{', 'Unmatched \\{'],
    ['a{1', 'Unmatched \\{'],
    ['a{1,', 'Unmatched \\{'],
    ['a{1,2', 'Unmatched \\{'],
    ['a{x}', 'Invalid content of \\{\\}'],
    ['a{1x}', 'Invalid content of \\{\\}'],
    ['a{x1}', 'Invalid content of \\{\\}'],
    ['a{2,1}', 'Invalid content of \\{\\}'],
    ['a{1,2,3}', 'Invalid content of \\{\\}'],
    ['a{}', 'Invalid content of \\{\\}'],
    ['a{1,x}', 'Invalid content of \\{\\}'],
    ['a{32768}', 'Regular expression too big'],
    ['a{1,32768}', 'Regular expression too big'],
    ['a{32768,}', 'Regular expression too big'],
    ['a{99999999}', 'Regular expression too big'],
    ['[', 'Invalid regular expression'],
    ['[^', 'Invalid regular expression'],
    ['[a', 'Unmatched [, [^, [:, [., or [='],
    ['[a-', 'Unmatched [, [^, [:, [., or [='],
    ['[a-b', 'Unmatched [, [^, [:, [., or [='],
    ['[[:alpha:]', 'Unmatched [, [^, [:, [., or [='],
    ['[[.', 'Unmatched [, [^, [:, [., or [='],
    ['[[.a', 'Unmatched [, [^, [:, [., or [='],
    ['[[:alpha', 'Unmatched [, [^, [:, [., or [='],
    ['[[:abcdefghijklmnopqrstuvwxyzabcdefgh:]]', 'Unmatched [, [^, [:, [., or [='],
    ['[[:foo:]]', 'Invalid character class name'],
    ['[b-a]', 'Invalid range end'],
    ['[[:alpha:]-z]', 'Invalid range end'],
    ['[a-[:alpha:]]', 'Invalid range end'],
    ['[[=a=]-z]', 'Invalid range end'],
    ['[a-[=z=]]', 'Invalid range end'],
    ['[[.ab.]]', 'Invalid collation character'],
    ['[[.ab.]-z]', 'Invalid collation character'],
    ['[a-[.yz.]]', 'Invalid collation character'],
    ['[a--]', 'Invalid range end'],
    ['[a-b-c]', 'Invalid range end'],
  ])('%s fails: %s', (pattern, message) => {
    let error: unknown;
    try {
      compileEre(pattern);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RegError);
    expect((error as Error).message).toBe(message);
  });

  it.each([
    ['^[0-9]+$', ['10', '99'], ['1a', '', 'a1']],
    ['^\\<ab\\>$', ['ab'], ['a', 'abc']],
    ['a.c', ['abc', 'a-c'], ['ac', 'a\x00c']],
    ['^(x|y){2}$', ['xy', 'yy'], ['x', 'xyz']],
    ['^a{,2}$', ['', 'a', 'aa'], ['aaa']],
    ['^a{2,}$', ['aa', 'aaaa'], ['a']],
    ['^(a)\\1$', ['aa'], ['ab']],
    ['^[[:upper:]]', ['Abc'], ['abc']],
    ['^[^[:lower:]]', ['Abc', '1'], ['abc']],
    ['a)', ['a)'], ['a']],
  ])('%s matches as glibc would', (pattern, yes, no) => {
    const re = compileEre(pattern);
    for (const name of yes) expect(re.test(name), `${pattern} ~ ${name}`).toBe(true);
    for (const name of no) expect(re.test(name), `${pattern} !~ ${name}`).toBe(false);
  });
});
