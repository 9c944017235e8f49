// Name selection and ordering shared by `lifeboat run-parts` and the lifecycle's hook runtime.
// The rules are those of Debian's run-parts 5.x (debianutils), checked against /usr/bin/run-parts 5.7:
// it never calls setlocale(), so regexes and sorting work in the C locale, on bytes.
//
// Names may be ordinary (UTF-8 decoded) strings or "byte strings" (each byte one char, as from
// Buffer#toString('latin1')): every rule below gives the same answer for both forms.

/** run-parts' default ("classical") name rule. */
export const DEFAULT_NAME_RE = /^[a-zA-Z0-9_-]+$/;

/** --lsbsysinit, LANANA hierarchical/reserved names (`_` prefix = distribution-reserved). */
export const LSB_HIER_RE = /^_?([a-z0-9_.]+-)+[a-z0-9]+$/;
/** --lsbsysinit, dpkg leftovers rejected among the hierarchical names (needs a leading [a-z0-9-]). */
export const LSB_EXCLUDE_RE = /^[a-z0-9-][^]*\.dpkg-(old|dist|new|tmp)$/;
/** --lsbsysinit, traditional Debian init-script names: no `_`, no upper case, no leading `-`. */
export const LSB_TRAD_RE = /^[a-z0-9][a-z0-9-]*$/;

export interface SelectOptions {
  /** A custom rule (run-parts --regex); takes precedence over lsbsysinit. */
  regex?: RegExp;
  /** The LSB sysinit rules (run-parts --lsbsysinit). */
  lsbsysinit?: boolean;
}

// Used for --lsbsysinit: a hierarchical name passes unless it is a dpkg leftover, else it must be traditional.
export function isLsbName(name: string): boolean {
  return LSB_HIER_RE.test(name) ? !LSB_EXCLUDE_RE.test(name) : LSB_TRAD_RE.test(name);
}

// Used to decide whether one directory entry is a part at all (custom regex > LSB > default rule).
export function isValidName(name: string, opts: SelectOptions = {}): boolean {
  if (opts.regex) {
    opts.regex.lastIndex = 0;
    return opts.regex.test(name);
  }
  return opts.lsbsysinit ? isLsbName(name) : DEFAULT_NAME_RE.test(name);
}

// Used to order parts like strcmp()/alphasort in the C locale: by UTF-8 bytes (= code points), not UTF-16 units.
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800..DFFF) stand for code points above U+FFFF: move them above U+E000..U+FFFF.
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

// Used to drop the directory entries run-parts would ignore, keeping the input order.
export function selectNames(names: Iterable<string>, opts: SelectOptions = {}): string[] {
  const out: string[] = [];
  for (const name of names) if (name !== '.' && name !== '..' && isValidName(name, opts)) out.push(name);
  return out;
}

// Used to put parts in execution order (byte order, or its exact reverse for --reverse); returns a copy.
export function sortNames(names: Iterable<string>, reverse = false): string[] {
  const out = [...names].sort(compareBytes);
  return reverse ? out.reverse() : out;
}
