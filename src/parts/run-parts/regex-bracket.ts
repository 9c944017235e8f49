// Bracket expressions of the glibc ERE port (regcomp.c parse_bracket_exp): the C locale has no
// multi-char collating elements and no equivalence classes beyond single bytes; '\' is literal
// inside brackets. The result is one JS character class over bytes.
import { CLASS_TEST, REG, RegError, formatClass } from './regex-charset.js';

/** The pattern (a byte string) and the parser's position in it, shared with regex.ts. */
export interface Cursor {
  src: string;
  pos: number;
}

type BTok = { type: 'CHAR' | 'RANGE' | 'CLOSE' | 'NONMATCH' | 'OPEN_COLL' | 'OPEN_EQUIV' | 'OPEN_CLASS' | 'END'; c: string; len: number };
type BElem = { type: 'SB' | 'COLL' | 'EQUIV' | 'CLASS'; ch: string; name: string };

// Used to look at the next token inside brackets without consuming it (glibc peek_token_bracket).
function peekBracket(cur: Cursor): BTok {
  const { src, pos } = cur;
  if (pos >= src.length) return { type: 'END', c: '', len: 0 };
  const c = src[pos]!;
  if (c === '[') {
    const c2 = pos + 1 < src.length ? src[pos + 1]! : '';
    if (c2 === '.') return { type: 'OPEN_COLL', c: c2, len: 2 };
    if (c2 === '=') return { type: 'OPEN_EQUIV', c: c2, len: 2 };
    if (c2 === ':') return { type: 'OPEN_CLASS', c: c2, len: 2 };
    return { type: 'CHAR', c, len: 1 };
  }
  if (c === '-') return { type: 'RANGE', c, len: 1 };
  if (c === ']') return { type: 'CLOSE', c, len: 1 };
  if (c === '^') return { type: 'NONMATCH', c, len: 1 };
  return { type: 'CHAR', c, len: 1 };
}

// Used after "[." "[=" "[:" to read the name up to ".]" "=]" ":]" (glibc parse_bracket_symbol).
function parseBracketSymbol(cur: Cursor, t: BTok): BElem {
  if (cur.pos >= cur.src.length) throw new RegError(REG.EBRACK);
  let name = '';
  for (let i = 0; ; i++) {
    if (i >= 32) throw new RegError(REG.EBRACK);
    const ch = cur.src[cur.pos++]!;
    if (cur.pos >= cur.src.length) throw new RegError(REG.EBRACK);
    if (ch === t.c && cur.src[cur.pos] === ']') break;
    name += ch;
  }
  cur.pos++;
  return { type: t.type === 'OPEN_COLL' ? 'COLL' : t.type === 'OPEN_EQUIV' ? 'EQUIV' : 'CLASS', ch: '', name };
}

// Used for each start or end of a range (glibc parse_bracket_element); a '-' is only allowed first or last.
function parseBracketElement(cur: Cursor, t: BTok, acceptHyphen: boolean): BElem {
  cur.pos += t.len;
  if (t.type === 'OPEN_COLL' || t.type === 'OPEN_EQUIV' || t.type === 'OPEN_CLASS') return parseBracketSymbol(cur, t);
  if (t.type === 'RANGE' && !acceptHyphen && peekBracket(cur).type !== 'CLOSE') throw new RegError(REG.ERANGE);
  return { type: 'SB', ch: t.c, name: '' };
}

// Used by regex.ts right after a '[': parses up to the closing ']' and returns a JS character class.
export function parseBracket(cur: Cursor): string {
  const set: boolean[] = new Array(256).fill(false);
  let nonMatch = false;
  let t = peekBracket(cur);
  if (t.type === 'END') throw new RegError(REG.BADPAT);
  if (t.type === 'NONMATCH') {
    nonMatch = true;
    cur.pos += t.len;
    t = peekBracket(cur);
    if (t.type === 'END') throw new RegError(REG.BADPAT);
  }
  if (t.type === 'CLOSE') t = { ...t, type: 'CHAR' };
  // Used for the ends of a range and lone elements: "[.x.]" is the byte x, longer names do not collate.
  const toByte = (el: BElem): number => {
    if (el.type === 'SB') return el.ch.charCodeAt(0);
    if (el.name.length !== 1) throw new RegError(REG.ECOLLATE);
    return el.name.charCodeAt(0);
  };
  let first = true;
  for (;;) {
    const start = parseBracketElement(cur, t, first);
    first = false;
    t = peekBracket(cur);
    let t2: BTok | null = null;
    if (start.type !== 'CLASS' && start.type !== 'EQUIV') {
      if (t.type === 'END') throw new RegError(REG.EBRACK);
      if (t.type === 'RANGE') {
        cur.pos += t.len;
        const n = peekBracket(cur);
        if (n.type === 'END') throw new RegError(REG.EBRACK);
        if (n.type === 'CLOSE') {
          cur.pos -= t.len; // a trailing '-' is an ordinary character
          t = { ...t, type: 'CHAR' };
        } else t2 = n;
      }
    }
    if (t2) {
      const end = parseBracketElement(cur, t2, true);
      t = peekBracket(cur);
      if (start.type === 'EQUIV' || start.type === 'CLASS' || end.type === 'EQUIV' || end.type === 'CLASS') {
        throw new RegError(REG.ERANGE);
      }
      if ((start.type === 'COLL' && start.name.length > 1) || (end.type === 'COLL' && end.name.length > 1)) {
        throw new RegError(REG.ECOLLATE);
      }
      const a = toByte(start);
      const b = toByte(end);
      if (a > b) throw new RegError(REG.ERANGE);
      for (let c = a; c <= b; c++) set[c] = true;
    } else if (start.type === 'CLASS') {
      const test = CLASS_TEST[start.name];
      if (!test) throw new RegError(REG.ECTYPE);
      for (let c = 0; c < 256; c++) if (test(c)) set[c] = true;
    } else {
      set[toByte(start)] = true;
    }
    if (t.type === 'END') throw new RegError(REG.EBRACK);
    if (t.type === 'CLOSE') break;
  }
  cur.pos += t.len;
  if (nonMatch) for (let c = 0; c < 256; c++) set[c] = !set[c];
  return formatClass(set);
}
