// POSIX ERE (glibc regcomp(REG_EXTENDED), C locale) -> JS RegExp over byte strings, for --regex.
// A port of glibc's parser (regcomp.c): same accepted syntax (GNU \w \s \b \< \> \` \' and
// back-references included), same error, detected in the same order, with regerror()'s text.
// Matching semantics only need to agree on match/no-match (REG_NOSUB), where leftmost-longest
// and leftmost-first agree. Bracket expressions are in regex-bracket.ts.
import { type Cursor, parseBracket } from './regex-bracket.js';
import { RE_DUP_MAX, REG, RegError, formatLiteral, formatNamedClass } from './regex-charset.js';

export { RegError } from './regex-charset.js';

type TokType =
  | 'CHAR' | 'ANCHOR' | 'BACKREF' | 'ALT' | 'STAR' | 'PLUS' | 'QUESTION' | 'OPEN_DUP' | 'CLOSE_DUP'
  | 'OPEN_SUB' | 'CLOSE_SUB' | 'OPEN_BRACKET' | 'PERIOD' | 'WORD' | 'NOTWORD' | 'SPACE' | 'NOTSPACE'
  | 'BACKSLASH' | 'END';
interface Tok {
  type: TokType;
  c: string;
  len: number;
}

/** An expression's JS source, and whether a quantifier can follow it directly. */
interface Expr {
  src: string;
  quantified: boolean;
}

// Used for --regex=PATTERN (a byte string): compiles it or throws RegError with glibc's message.
export function compileEre(pattern: string): RegExp {
  const cursor: Cursor = { src: pattern, pos: 0 };
  let nsub = 0;
  const completed = new Set<number>();
  const removed = new Set<number>();

  // Used to classify the next token without consuming it (glibc peek_token, REG_EXTENDED syntax).
  function peekToken(): Tok {
    if (cursor.pos >= cursor.src.length) return { type: 'END', c: '', len: 0 };
    const c = cursor.src[cursor.pos]!;
    if (c === '\\') {
      if (cursor.pos + 1 >= cursor.src.length) return { type: 'BACKSLASH', c, len: 1 };
      const c2 = cursor.src[cursor.pos + 1]!;
      const t = (type: TokType): Tok => ({ type, c: c2, len: 2 });
      if (c2 >= '1' && c2 <= '9') return t('BACKREF');
      switch (c2) {
        case '<': case '>': case 'b': case 'B': case '`': case "'":
          return t('ANCHOR');
        case 'w': return t('WORD');
        case 'W': return t('NOTWORD');
        case 's': return t('SPACE');
        case 'S': return t('NOTSPACE');
        default: return t('CHAR');
      }
    }
    const t = (type: TokType): Tok => ({ type, c, len: 1 });
    switch (c) {
      case '|': return t('ALT');
      case '*': return t('STAR');
      case '+': return t('PLUS');
      case '?': return t('QUESTION');
      case '{': return t('OPEN_DUP');
      case '}': return t('CLOSE_DUP');
      case '(': return t('OPEN_SUB');
      case ')': return t('CLOSE_SUB');
      case '[': return t('OPEN_BRACKET');
      case '.': return t('PERIOD');
      case '^': case '$': return t('ANCHOR');
      default: return t('CHAR');
    }
  }
  let tok: Tok = { type: 'END', c: '', len: 0 };
  // Used for every look at the current token (a call, so that TypeScript does not narrow across fetchToken()).
  const getToken = (): Tok => tok;
  // Used to consume the current token and move to the next one (glibc fetch_token).
  function fetchToken(): void {
    tok = peekToken();
    cursor.pos += tok.len;
  }

  // Used at the top and inside each group: branches separated by '|' (glibc parse_reg_exp).
  function parseRegExp(nest: number): string {
    let out = parseBranch(nest);
    while (getToken().type === 'ALT') {
      fetchToken();
      let branch = '';
      if (getToken().type !== 'ALT' && getToken().type !== 'END' && (nest === 0 || getToken().type !== 'CLOSE_SUB')) branch = parseBranch(nest);
      out += '|' + branch;
    }
    return out;
  }

  // Used for each alternative: a sequence of expressions (glibc parse_branch).
  function parseBranch(nest: number): string {
    let out = parseExpression(nest)?.src ?? '';
    while (getToken().type !== 'ALT' && getToken().type !== 'END' && (nest === 0 || getToken().type !== 'CLOSE_SUB')) {
      out += parseExpression(nest)?.src ?? '';
    }
    return out;
  }

  // Used for one atom and the repetitions that follow it (glibc parse_expression); null at '|' or the end.
  function parseExpression(nest: number): Expr | null {
    let e: Expr;
    const firstGroup = nsub;
    switch (getToken().type) {
      case 'CHAR':
      case 'CLOSE_DUP':
        e = { src: formatLiteral(getToken().c.charCodeAt(0)), quantified: false };
        break;
      case 'CLOSE_SUB': // only reached at nest 0: an unmatched ')' is an ordinary character
        e = { src: formatLiteral(41), quantified: false };
        break;
      case 'OPEN_SUB': {
        const idx = nsub++;
        fetchToken();
        let inner = '';
        if (getToken().type !== 'CLOSE_SUB') {
          inner = parseRegExp(nest + 1);
          if (getToken().type !== 'CLOSE_SUB') throw new RegError(REG.EPAREN);
        }
        if (idx <= 8) completed.add(idx);
        e = { src: `(${inner})`, quantified: false };
        break;
      }
      case 'OPEN_BRACKET':
        e = { src: parseBracket(cursor), quantified: false };
        break;
      case 'BACKREF': {
        const idx = getToken().c.charCodeAt(0) - 49;
        if (!completed.has(idx)) throw new RegError(REG.ESUBREG);
        // A group repeated {0} is dropped by glibc: a reference to it can never match.
        e = { src: removed.has(idx) ? '(?!)' : `(?:\\${idx + 1})`, quantified: false };
        break;
      }
      case 'OPEN_DUP':
      case 'STAR':
      case 'PLUS':
      case 'QUESTION':
        throw new RegError(REG.BADRPT);
      case 'ANCHOR': {
        const a: Record<string, string> = {
          '^': '^', $: '$', '`': '^', "'": '$', '<': '\\b(?=\\w)', '>': '\\b(?<=\\w)', b: '\\b', B: '\\B',
        };
        const s = a[getToken().c]!;
        // Anchors take no repetition: the next '*' starts an expression and is an error ("^*").
        fetchToken();
        return { src: `(?:${s})`, quantified: true };
      }
      case 'PERIOD':
        e = { src: '[^\\x00]', quantified: false };
        break;
      case 'WORD':
      case 'NOTWORD':
        e = { src: formatNamedClass('alnum', getToken().type === 'NOTWORD', '_'), quantified: false };
        break;
      case 'SPACE':
      case 'NOTSPACE':
        e = { src: formatNamedClass('space', getToken().type === 'NOTSPACE'), quantified: false };
        break;
      case 'ALT':
      case 'END':
        return null;
      case 'BACKSLASH':
        throw new RegError(REG.EESCAPE);
    }
    fetchToken();
    while (getToken().type === 'STAR' || getToken().type === 'PLUS' || getToken().type === 'QUESTION' || getToken().type === 'OPEN_DUP') {
      e = parseDup(e);
      if (e.src.endsWith('{0}')) for (let g = firstGroup; g < nsub; g++) removed.add(g);
    }
    return e;
  }

  // Used inside "{m,n}" (glibc fetch_number): -1 = no digits, -2 = invalid or end of pattern.
  function fetchNumber(): number {
    let num = -1;
    for (;;) {
      fetchToken();
      if (getToken().type === 'END') return -2;
      if (getToken().type === 'CLOSE_DUP' || getToken().c === ',') break;
      const c = getToken().c;
      num =
        getToken().type !== 'CHAR' || c < '0' || c > '9' || num === -2
          ? -2
          : num === -1
            ? c.charCodeAt(0) - 48
            : Math.min(RE_DUP_MAX + 1, num * 10 + c.charCodeAt(0) - 48);
    }
    return num;
  }

  // Used for '*', '+', '?' and "{m,n}" after an atom (glibc parse_dup_op), checked in glibc's order.
  function parseDup(elem: Expr): Expr {
    let q: string;
    if (getToken().type === 'OPEN_DUP') {
      let start = fetchNumber();
      let end = 0;
      if (start === -1) {
        if (getToken().type === 'CHAR' && getToken().c === ',') start = 0; // "{,m}" is "{0,m}"
        else throw new RegError(REG.BADBR);
      }
      if (start !== -2) {
        end = getToken().type === 'CLOSE_DUP' ? start : getToken().type === 'CHAR' && getToken().c === ',' ? fetchNumber() : -2;
      }
      if (start === -2 || end === -2) throw new RegError(getToken().type === 'END' ? REG.EBRACE : REG.BADBR);
      if ((end !== -1 && start > end) || getToken().type !== 'CLOSE_DUP') throw new RegError(REG.BADBR);
      if (RE_DUP_MAX < (end === -1 ? start : end)) throw new RegError(REG.ESIZE);
      q = end === -1 ? `{${start},}` : start === end ? `{${start}}` : `{${start},${end}}`;
    } else {
      q = getToken().type === 'STAR' ? '*' : getToken().type === 'PLUS' ? '+' : '?';
    }
    fetchToken();
    return { src: (elem.quantified ? `(?:${elem.src})` : elem.src) + q, quantified: true };
  }

  fetchToken();
  const body = parseRegExp(0);
  return new RegExp(body);
}
