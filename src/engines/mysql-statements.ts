// A byte-level reading of a mariadb-dump stream the way the mariadb client reads it (quotes, comments,
// /*! */ executable comments, the delimiter), used by restores to refuse a dump that could select another
// database or change how later bytes are read:
//   - a backslash outside quotes (the client's \u \r \. \! commands);
//   - a statement starting with USE anywhere but at the start of a line (the line check in
//     mysql-lines.ts then requires it to name the restored database), or with CONNECT, PREPARE, EXECUTE,
//     DEALLOCATE or a client command (charset, source, system, ...);
//   - DELIMITER other than mariadb-dump's `;;` and `;`, or the word DELIMITER anywhere else;
//   - SET statements that switch on NO_BACKSLASH_ESCAPES, a character set where a backslash can be the
//     second byte of a character (the server would then end quotes elsewhere than the client), set a user
//     variable from anything but a server variable, or set sql_mode/character sets from a user variable
//     not saved that way; `:=` and `INTO @` outside stored-program definitions.
// mariadb-dump's own first line `/*M!999999\- enable the sandbox mode */` (the client's sandbox
// command) is the one backslash command let through. Bytes pass through unchanged; the reading never holds more than a statement's first bytes.
import { Transform, type TransformCallback } from 'node:stream';

// How much of a statement's code (outside quotes) is kept to judge it.
const KEEP = 4096;
// First words that select a database, run a prepared statement or are client commands.
const REFUSED = new Set(['connect', 'prepare', 'execute', 'deallocate', 'charset', 'source', 'system', 'tee', 'pager', 'edit', 'rehash', 'warnings', 'nowarning', 'go', 'ego', 'print', 'prompt', 'exit', 'quit', 'notee', 'nopager', 'status', 'help', 'clear']);
// Character sets in which a backslash byte can end a multi-byte character.
const UNSAFE_CHARSETS = /\b(big5|gbk|sjis|cp932|gb18030)\b/i;
// Server variables whose value changes how the server reads quotes.
const READING_VARIABLES = /\b(sql_mode|character_set_client|character_set_connection|names|character\s+set|charset)\b/i;

// The first line newer mariadb-dump versions write: it switches the client to its sandbox mode.
const SANDBOX_LINE = Buffer.from('/*M!999999\\- enable the sandbox mode */');

// A refusal with the line it is on.
export type Refuse = (line: number, why: string) => Error;

export class StatementGuard extends Transform {
  // code, a 'quoted' "quoted" `quoted` string, a -- or # comment, a /* */ comment.
  private state: 'code' | "'" | '"' | '`' | 'line' | 'block' = 'code';
  private escaped = false;
  private exec = false;
  private delimiter = ';';
  private line = 1;
  private column = 0;
  // The statement being read: whether its first word is found, the word, its column, its code.
  private started = false;
  private word = '';
  private wordColumn = 0;
  private wordDone = false;
  private code = '';
  // Text of a DELIMITER line being read.
  private delimiterLine: string | undefined;
  // User variables set from a server variable (@saved_sql_mode = @@sql_mode).
  private readonly saved = new Set<string>();
  // The last byte of code read (for the `;;` delimiter) and the bytes of the last chunk not read yet.
  private last = '';
  private tail = Buffer.alloc(0);
  // Whether the first bytes were looked at for SANDBOX_LINE.
  private first = true;

  constructor(private readonly refuse: Refuse) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      // The last 3 bytes wait for the next chunk (read and passed on only then), so openers split
      // across chunks are seen whole and nothing passes on before it is read.
      const bytes = Buffer.concat([this.tail, chunk]);
      let from = 0;
      if (this.first) {
        if (bytes.length < SANDBOX_LINE.length && SANDBOX_LINE.subarray(0, bytes.length).equals(bytes)) {
          this.tail = bytes;
          done();
          return;
        }
        this.first = false;
        if (bytes.subarray(0, SANDBOX_LINE.length).equals(SANDBOX_LINE)) from = SANDBOX_LINE.length;
      }
      const upto = Math.max(from, bytes.length - 3);
      for (let i = from; i < upto; i++) this.byte(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]);
      this.tail = bytes.subarray(upto);
      done(null, bytes.subarray(0, upto));
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      const rest = this.tail;
      // A dump no longer than the sandbox line: it is still read.
      const from = this.first && rest.equals(SANDBOX_LINE) ? rest.length : 0;
      this.tail = rest.subarray(from);
      this.readTail();
      done(null, rest);
    } catch (error) {
      done(error as Error);
    }
  }

  // Reads one byte (with up to three following ones of the same chunk to recognise openers).
  private byte(b: number, n1?: number, n2?: number, n3?: number): void {
    const c = String.fromCharCode(b);
    if (this.delimiterLine !== undefined) {
      if (c === '\n') {
        const value = this.delimiterLine.trim();
        if (value !== ';;' && value !== ';') throw this.refuse(this.line, `DELIMITER ${JSON.stringify(value)} is not a delimiter mariadb-dump writes (only ;; and ;)`);
        this.delimiter = value;
        this.delimiterLine = undefined;
        this.reset();
      } else this.delimiterLine += c;
      this.advance(c);
      return;
    }
    if (this.state !== 'code') this.last = '';
    switch (this.state) {
      case "'":
      case '"':
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === this.state) this.state = 'code';
        this.keep(c);
        break;
      case '`':
        if (c === '`') this.state = 'code';
        this.keep(c);
        break;
      case 'line':
        if (c === '\n') this.state = 'code';
        break;
      case 'block':
        if (c === '*' && n1 === 0x2f) this.state = 'code';
        break;
      default:
        this.codeByte(c, n1, n2, n3);
    }
    this.advance(c);
  }

  // Reads one byte of code.
  private codeByte(c: string, n1?: number, n2?: number, n3?: number): void {
    const next = n1 === undefined ? '' : String.fromCharCode(n1);
    if (c === '\\') throw this.refuse(this.line, 'a backslash outside quotes (a mariadb client command such as \\u, which selects another database) is not something mariadb-dump writes');
    if (this.atDelimiter(c, next)) {
      this.finish();
      return;
    }
    if (c === '#' || (c === '-' && next === '-' && (n2 === undefined || /\s/.test(String.fromCharCode(n2))))) {
      this.state = 'line';
      this.endWord();
      return;
    }
    if (c === '/' && next === '*') {
      const bang = n2 === 0x21 || (n2 === 0x4d && n3 === 0x21);
      if (!bang) {
        this.state = 'block';
        this.endWord();
        return;
      }
      this.exec = true;
      this.endWord();
      return;
    }
    if (this.exec && c === '*' && next === '/') {
      this.exec = false;
      this.endWord();
      return;
    }
    if (c === "'" || c === '"' || c === '`') this.state = c;
    this.word_(c);
    this.keep(c);
  }

  // Whether `c` (and the next byte) is the delimiter; for `;;` the first `;` waits for the second.
  private atDelimiter(c: string, _next: string): boolean {
    if (this.delimiter === ';') return c === ';';
    if (c === ';' && this.last === ';') return true;
    this.last = c;
    return false;
  }

  // Tracks the statement's first word (letters after the /*!NNNNN opener's digits).
  private word_(c: string): void {
    if (this.wordDone) return;
    const letter = /[A-Za-z_]/.test(c);
    if (!this.started) {
      if (!letter) return;
      this.started = true;
      this.wordColumn = this.column;
      this.word = c;
      return;
    }
    if (letter) this.word += c;
    else this.endWord();
  }

  // Ends the first word; judges it at once (a client command acts at the end of its line).
  private endWord(): void {
    if (!this.started || this.wordDone) return;
    this.wordDone = true;
    const word = this.word.toLowerCase();
    if (word === 'delimiter') {
      if (this.wordColumn !== 0 || this.code.trim().toLowerCase() !== 'delimiter') throw this.refuse(this.line, 'DELIMITER inside a statement is not something mariadb-dump writes');
      this.delimiterLine = '';
      return;
    }
    if (word === 'use' && this.wordColumn !== 0) throw this.refuse(this.line, 'USE after other text on its line (it would select another database) is not something mariadb-dump writes');
    if (REFUSED.has(word)) throw this.refuse(this.line, `a statement starting with ${word.toUpperCase()} is not something mariadb-dump writes (it could run statements in another database)`);
  }

  // Keeps the statement's first bytes of code (and quoted text) to judge SET statements.
  private keep(c: string): void {
    if (this.code.length < KEEP) this.code += c;
  }

  private advance(c: string): void {
    if (c === '\n') {
      this.line++;
      this.column = 0;
    } else this.column++;
  }

  // A statement ended: judges it, then starts the next one.
  private finish(): void {
    this.endWord();
    const code = this.code;
    const word = this.word.toLowerCase();
    const stored = this.delimiter === ';;' && /^create\b/i.test(code.replace(/^[\s*!M\d/]*/, ''));
    if (!stored && (/:=/.test(stripQuoted(code)) || /\binto\s+@/i.test(stripQuoted(code)))) throw this.refuse(this.line, 'a statement setting a user variable (:= or INTO @) is not something mariadb-dump writes');
    if (word === 'set') this.judgeSet(code);
    this.reset();
  }

  // SET statements may not change how the server reads quotes, except back to values it had.
  private judgeSet(code: string): void {
    if (/NO_BACKSLASH_ESCAPES|ANSI|ORACLE|MSSQL|\bDB2\b|POSTGRESQL|MAXDB/i.test(code) || UNSAFE_CHARSETS.test(code)) throw this.refuse(this.line, `${JSON.stringify(code.trim().slice(0, 80))} switches to a way of reading quotes the restore cannot follow`);
    const plain = stripQuoted(code);
    for (const part of plain.replace(/^[\s*!M\d/]*set\b/i, '').split(',')) {
      const user = /^\s*@(\w+)\s*=\s*(.*)$/s.exec(part);
      if (user) {
        if (!/^@@[\w.]+[\s*/;]*$/.test(user[2])) throw this.refuse(this.line, `setting @${user[1]} to anything but a server variable is not something mariadb-dump writes`);
        this.saved.add(user[1].toLowerCase());
        continue;
      }
      const from = /=\s*@(\w+)/.exec(part);
      if (from && READING_VARIABLES.test(part) && !this.saved.has(from[1].toLowerCase())) throw this.refuse(this.line, `${JSON.stringify(part.trim().slice(0, 80))} sets how quotes are read from a variable the dump did not save from the server`);
    }
  }

  private reset(): void {
    this.last = '';
    this.started = false;
    this.wordDone = false;
    this.word = '';
    this.code = '';
  }

  private readTail(): void {
    const bytes = this.tail;
    for (let i = 0; i < bytes.length; i++) this.byte(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]);
    if (this.delimiterLine !== undefined) {
      this.byte(10);
    }
  }
}

// The code with quoted strings emptied (so words inside data are not taken for keywords).
function stripQuoted(code: string): string {
  return code.replace(/'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|`[^`]*`?/gs, "''");
}
