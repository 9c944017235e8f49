// The one order of paths the backup manifest is written and merged in: component by component, each
// name compared as bytes. It is the order of a depth-first walk that lists every directory sorted by
// byte (a directory, then everything below it, then its next sibling): `a` < `a/b` < `a-b` < `a.b`,
// although plain byte order would put `a/b` last ('/' is 0x2f, after '-' and '.').
import type { BytePath } from './byte-path.js';

const SLASH = 0x2f;

// Negative, zero or positive as `a` sorts before, with or after `b` (absolute paths as bytes).
export function comparePaths(a: BytePath, b: BytePath): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    // One name ended where the other goes on: the shorter name (a prefix of the other) sorts first.
    if (x === SLASH) return -1;
    if (y === SLASH) return 1;
    return x - y;
  }
  return a.length - b.length;
}
