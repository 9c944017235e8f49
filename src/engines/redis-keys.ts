// Redis glob patterns (the `keys:` of an entry) matched the way the server's SCAN MATCH does
// (stringmatchlen): * ? [abc] [^a-z] and \ escapes, byte for byte, so a restore can refuse a dump that
// holds a key outside the module's patterns before any key changes.

// Whether `key` matches `pattern` (UTF-8 bytes, as SCAN MATCH sees it).
export function keyMatches(pattern: string, key: Buffer): boolean {
  return match(Buffer.from(pattern, 'utf8'), 0, key, 0);
}

// Whether `key` matches any of `patterns` (every key matches when there are none).
export function inPatterns(patterns: string[] | undefined, key: Buffer): boolean {
  return !patterns?.length || patterns.some((pattern) => keyMatches(pattern, key));
}

function match(p: Buffer, pi: number, s: Buffer, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi];
    if (c === 0x2a) {
      // '*': collapse runs, then try every split.
      while (p[pi + 1] === 0x2a) pi++;
      if (pi + 1 === p.length) return true;
      for (let at = si; at <= s.length; at++) if (match(p, pi + 1, s, at)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === 0x3f) {
      si++;
      pi++;
      continue;
    }
    if (c === 0x5b) {
      // '[...]': a set, ranges, ^ negates, \ escapes.
      pi++;
      const not = p[pi] === 0x5e;
      if (not) pi++;
      let found = false;
      while (pi < p.length && p[pi] !== 0x5d) {
        if (p[pi] === 0x5c && pi + 1 < p.length) {
          pi++;
          if (p[pi] === s[si]) found = true;
        } else if (p[pi + 1] === 0x2d && pi + 2 < p.length && p[pi + 2] !== 0x5d) {
          const [low, high] = p[pi] <= p[pi + 2] ? [p[pi], p[pi + 2]] : [p[pi + 2], p[pi]];
          if (s[si] >= low && s[si] <= high) found = true;
          pi += 2;
        } else if (p[pi] === s[si]) found = true;
        pi++;
      }
      if (found === not) return false;
      pi++; // past ']'
      si++;
      continue;
    }
    if (c === 0x5c && pi + 1 < p.length) pi++;
    if (p[pi] !== s[si]) return false;
    pi++;
    si++;
  }
  return si === s.length;
}
