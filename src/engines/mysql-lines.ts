// Line filters for mariadb-dump streams, never holding more than the start of a line (data lines of
// many megabytes pass straight through):
//   ScratchRenamer  (the restore drill) renames the databases a dump creates or USEs to scratch names and
//                   makes stored programs and views defined by the loading account (DEFINER=CURRENT_USER);
//   DumpNameCheck   (restores) refuses a dump whose header or CREATE DATABASE / USE lines name another
//                   database than the one it is restored as.
// Neither is what keeps a dump inside its database: the drill loads through an account the server limits
// to the scratch databases (mysql-drill.ts). These make honest dumps load, and wrong ones fail early.
import { Transform, type TransformCallback } from 'node:stream';
import { LifeboatError } from '../errors.js';

// A statement line longer than this is data, never a line to rewrite or check.
const MAX_STATEMENT = 64 * 1024;
// How much of a line start is looked at to decide whether it is a line to handle.
const START = 64;

// Splits a stream into lines; lines whose start `wants` are held whole (until a newline outside a
// `quoted` name) and passed through `handle`, every other line passes through untouched.
abstract class LineFilter extends Transform {
  private held: Buffer[] = [];
  private heldLength = 0;
  // start: at a line start, deciding; statement: a line to handle; data: pass to the newline.
  private mode: 'start' | 'statement' | 'data' = 'start';
  protected lineNumber = 0;

  protected abstract wants(start: string): boolean;
  protected abstract handle(line: string): string;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.consume(chunk);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.release(this.mode === 'statement');
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  private consume(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const newline = chunk.indexOf(10, at);
      const end = newline < 0 ? chunk.length : newline + 1;
      let lineEnds = newline >= 0;
      if (this.mode === 'data') {
        this.push(chunk.subarray(at, end));
      } else {
        this.held.push(chunk.subarray(at, end));
        this.heldLength += end - at;
        if (this.mode === 'start' && (this.heldLength >= START || lineEnds)) {
          this.mode = this.wants(Buffer.concat(this.held).subarray(0, START).toString('latin1')) ? 'statement' : 'data';
          if (this.mode === 'data') this.release(false);
        }
        if (this.mode === 'statement' && this.heldLength > MAX_STATEMENT) {
          this.release(false);
          this.mode = 'data';
        }
        // A newline inside a `quoted` name (a database called "a\nb") does not end the statement.
        if (this.mode === 'statement' && lineEnds && oddBackticks(this.held)) lineEnds = false;
        if (this.mode === 'statement' && lineEnds) this.release(true);
      }
      if (lineEnds) {
        this.mode = 'start';
        this.lineNumber++;
      }
      at = end;
    }
  }

  // Emits the held bytes, handled when they are a whole line to handle.
  private release(handle: boolean): void {
    if (this.heldLength === 0) return;
    const bytes = Buffer.concat(this.held);
    this.held = [];
    this.heldLength = 0;
    this.push(handle ? Buffer.from(this.handle(bytes.toString('utf8')), 'utf8') : bytes);
  }
}

// True when the held bytes hold an odd number of backticks.
function oddBackticks(chunks: Buffer[]): boolean {
  let count = 0;
  for (const chunk of chunks) for (const byte of chunk) if (byte === 0x60) count++;
  return count % 2 === 1;
}

// A `quoted` name, its quotes doubled inside.
const NAME = '`((?:[^`]|``)+)`';
const unquote = (name: string) => name.replace(/``/g, '`');

// Lines of a mariadb-dump file that name a database or a definer, rewritten by the drill.
const DATABASE_LINES = ['USE `', 'CREATE DATABASE ', 'DROP DATABASE ', '/*!40000 DROP DATABASE '];
const DEFINER_LINES = ['CREATE DEFINER=', '/*!50013 DEFINER=', '/*!50003 CREATE*/ /*!50017 DEFINER=', '/*!50106 CREATE*/ /*!50117 DEFINER='];
const DEFINER = /DEFINER=(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|\w+)(?:@(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[\w.%:-]+))?/;

// Renames the databases of a mariadb-dump stream to scratch names, line by line:
//   CREATE DATABASE ... `app` ...   ->  the same with the scratch name
//   USE `app`;                      ->  CREATE DATABASE IF NOT EXISTS `scratch`; USE `scratch`;
//   DROP DATABASE ...               ->  a comment (only --add-drop-database writes these)
//   ... DEFINER=`root`@`host` ...   ->  DEFINER=CURRENT_USER (the drill's account may not name another)
// The first database gets `base`, further ones `base_2`, `base_3`, ...: all start with `base`, which is
// what the drill's account is granted.
export class ScratchRenamer extends LineFilter {
  // Original database name -> scratch name, in the order the dump names them.
  readonly names = new Map<string, string>();

  constructor(readonly base: string) {
    super();
  }

  protected wants(start: string): boolean {
    return [...DATABASE_LINES, ...DEFINER_LINES].some((prefix) => start.startsWith(prefix));
  }

  private scratchFor(name: string): { scratch: string; fresh: boolean } {
    const known = this.names.get(name);
    if (known) return { scratch: known, fresh: false };
    const scratch = this.names.size === 0 ? this.base : `${this.base}_${this.names.size + 1}`;
    this.names.set(name, scratch);
    return { scratch, fresh: true };
  }

  protected handle(line: string): string {
    const newline = line.endsWith('\n') ? '\n' : '';
    if (DEFINER_LINES.some((prefix) => line.startsWith(prefix))) return line.replace(DEFINER, 'DEFINER=CURRENT_USER');
    const use = new RegExp(`^USE ${NAME};\\s*$`).exec(line);
    if (use) {
      const { scratch, fresh } = this.scratchFor(unquote(use[1]));
      return `${fresh ? `CREATE DATABASE IF NOT EXISTS \`${scratch}\`;\n` : ''}USE \`${scratch}\`;${newline}`;
    }
    const create = new RegExp(`^(CREATE DATABASE (?:/\\*!32312 IF NOT EXISTS\\*/ )?)${NAME}(.*)$`, 's').exec(line);
    if (create) return `${create[1]}\`${this.scratchFor(unquote(create[2])).scratch}\`${create[3]}`;
    if (/DROP DATABASE/.test(line)) return `-- lifeboat verify: skipped ${line.trim().replace(/\*\//g, '* /')}${newline}`;
    return line;
  }
}

// Statement lines that select or create a database, however written (case, spaces, version comments).
const NAMING = /^\s*(?:\/\*!\d*\s*)?(?:USE\b|\\u\b|CONNECT\b|\\r\b|CREATE\s+(?:DATABASE|SCHEMA)\b|DROP\s+(?:DATABASE|SCHEMA)\b)/i;
// The name such a line selects or creates, when it is written the way mariadb-dump writes it.
const NAMED = new RegExp(`^(?:USE ${NAME};|CREATE DATABASE (?:/\\*!32312 IF NOT EXISTS\\*/ )?${NAME} .*;|/\\*!40000 DROP DATABASE IF EXISTS ${NAME}\\*/;)\\s*$`, 's');
// mariadb-dump's header line names the database: `-- Host: 127.0.0.1    Database: shop`.
const HEADER = '-- Host: ';
const HEADER_WITHIN = 16;

// Refuses (with an error naming both) a dump whose header or database lines name another database than
// `database`; `undefined` accepts any (a `database: all` dump). Every line is passed on unchanged.
// `headerOnly` checks just the header (the drill, where the server limits what the statements reach).
export class DumpNameCheck extends LineFilter {
  private header = false;

  constructor(
    private readonly database: string | undefined,
    private readonly what: string,
    private readonly headerOnly = false,
  ) {
    super();
  }

  protected wants(start: string): boolean {
    if (!this.header && this.lineNumber >= HEADER_WITHIN) throw this.refuse(`it has no "-- Host: ... Database: ..." header line (it was not written by mariadb-dump)`);
    return start.startsWith(HEADER) || (!this.headerOnly && NAMING.test(start));
  }

  protected handle(line: string): string {
    if (line.startsWith(HEADER)) {
      this.header = true;
      if (this.database?.includes('\n')) throw this.refuse('the database name holds a line break, which breaks the comment lines of a mariadb-dump file (their rest would run as SQL)');
      const at = line.indexOf('Database: ');
      const named = at < 0 ? '' : line.slice(at + 'Database: '.length).replace(/\n$/, '');
      if (named !== (this.database ?? '')) throw this.refuse(this.database === undefined ? `it is the dump of database "${named}", not of all databases` : `it is the dump of ${named ? `database "${named}"` : 'all databases'}`);
      return line;
    }
    if (this.database === undefined) return line;
    const named = NAMED.exec(line);
    const name = named && unquote(named[1] ?? named[2] ?? named[3]);
    if (name !== this.database) throw this.refuse(`line ${this.lineNumber + 1} selects ${name === null ? `a database in a way mariadb-dump never writes (${JSON.stringify(line.trim().slice(0, 80))})` : `database "${name}"`}`);
    return line;
  }

  private refuse(why: string): LifeboatError {
    return new LifeboatError('DATABASE', `${this.what}: ${why}; nothing was loaded`, { hint: 'restore the snapshot that holds this database\'s own dump; a dump that names another database is never loaded over it' });
  }
}
