// Shared pieces of the glibc ERE port (regex.ts, regex-bracket.ts): regerror() texts, the C
// locale's character classes, and byte sets written out as JS character classes.

// Thrown by the ERE parser; the message is glibc's regerror() text, printed after "Unable to build regexp: ".
export class RegError extends Error {}

export const REG = {
  BADPAT: 'Invalid regular expression',
  ECOLLATE: 'Invalid collation character',
  ECTYPE: 'Invalid character class name',
  EESCAPE: 'Trailing backslash',
  ESUBREG: 'Invalid back reference',
  EBRACK: 'Unmatched [, [^, [:, [., or [=',
  EPAREN: 'Unmatched ( or \\(',
  EBRACE: 'Unmatched \\{',
  BADBR: 'Invalid content of \\{\\}',
  ERANGE: 'Invalid range end',
  BADRPT: 'Invalid preceding regular expression',
  ESIZE: 'Regular expression too big',
};

/** glibc's RE_DUP_MAX: the largest count allowed in "{m,n}". */
export const RE_DUP_MAX = 0x7fff;

/** The C locale's [:name:] classes, as byte tests. */
export const CLASS_TEST: Record<string, (c: number) => boolean> = {
  alpha: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  upper: (c) => c >= 65 && c <= 90,
  lower: (c) => c >= 97 && c <= 122,
  digit: (c) => c >= 48 && c <= 57,
  xdigit: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
  space: (c) => c === 32 || (c >= 9 && c <= 13),
  print: (c) => c >= 32 && c <= 126,
  punct: (c) => c >= 33 && c <= 126 && !CLASS_TEST.alnum!(c),
  graph: (c) => c >= 33 && c <= 126,
  cntrl: (c) => c < 32 || c === 127,
  blank: (c) => c === 32 || c === 9,
  alnum: (c) => CLASS_TEST.alpha!(c) || CLASS_TEST.digit!(c),
};

// Used for every byte that is not alphanumeric, so no JS RegExp syntax can leak through.
const formatHex = (c: number): string => '\\x' + c.toString(16).padStart(2, '0');
// Used for an ordinary character of the pattern.
export const formatLiteral = (c: number): string => (CLASS_TEST.alnum!(c) ? String.fromCharCode(c) : formatHex(c));

// Used to write a 256-entry byte set (a bracket expression, \w, \s) as a JS character class.
export function formatClass(set: boolean[]): string {
  let s = '';
  for (let i = 0; i < 256; i++) {
    if (!set[i]) continue;
    let j = i;
    while (j + 1 < 256 && set[j + 1]) j++;
    s += j === i ? formatHex(i) : j === i + 1 ? formatHex(i) + formatHex(j) : `${formatHex(i)}-${formatHex(j)}`;
    i = j;
  }
  return `[${s}]`;
}

// Used for \w \W \s \S: a named class (plus extra bytes), possibly negated, as a JS character class.
export const formatNamedClass = (name: string, negate: boolean, extra = ''): string => {
  const set: boolean[] = [];
  for (let c = 0; c < 256; c++) set[c] = (CLASS_TEST[name]!(c) || extra.includes(String.fromCharCode(c))) !== negate;
  return formatClass(set);
};
