// Loading pg_dumpall --globals-only output (the roles and tablespaces of `database: all`) without trusting
// it: the whole file is parsed first and refused, before anything runs, unless every statement is one of
// the role and tablespace statements pg_dumpall writes (CREATE/ALTER ROLE, COMMENT ON ROLE, GRANT role TO
// role, CREATE/ALTER TABLESPACE, GRANT/REVOKE ON TABLESPACE, its SET lines and comments). No psql
// meta-command (\! \copy \connect ...), COPY, DO or function ever reaches psql, which runs with
// ON_ERROR_STOP. The server's own superusers are kept as they are: statements about them are skipped; a
// role may not become a superuser, gain CREATEROLE, REPLICATION or BYPASSRLS it does not have already, nor
// be granted a superuser or any predefined pg_* role; CURRENT_USER, SESSION_USER, CURRENT_ROLE, PUBLIC and
// ALL are refused where a role is named (they would reach the connected superuser or every role).
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { PostgresDatabase } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { loadIntoTool, runToolText } from './process.js';
import { ALL, tool, whereOf } from './postgres-client.js';
import { Readable as ReadableStream } from 'node:stream';
import type { EngineContext, LoadSource } from './types.js';

// A globals file larger than this is not pg_dumpall's.
const MAX_BYTES = 64 << 20;

interface Token {
  kind: 'word' | 'name' | 'string' | 'number' | 'punct';
  // The source text (latin1, byte for byte); for word and name also the folded name in `value`.
  text: string;
  value: string;
}

// Encodings in which every byte of a multi-byte character is >= 0x80, so quotes and backslashes are
// what they look like (psql and this parser agree on where a string ends).
const SAFE_ENCODINGS = /^(UTF8|UTF-8|UNICODE|SQL_ASCII|LATIN\d+|WIN\d+|ISO_8859_\d+|KOI8[RU]?|EUC_(JP|CN|KR|TW|JIS_2004)|MULE_INTERNAL)$/i;
// Predefined roles whose members read, write or run programs as the server's OS user.
const SERVER_ROLES = new Set(['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files']);
// Role attributes that are as good as superuser (CREATEROLE on PostgreSQL 15 grants any role) or pass
// around row security and replication: kept only where the server's role has them already.
const POWERS = ['CREATEROLE', 'REPLICATION', 'BYPASSRLS'];
// Bare words that name no role of the file but the connected user, every role or everyone.
const NOT_A_ROLE = new Set(['current_user', 'session_user', 'current_role', 'public', 'all', 'none']);
// Role settings that load code into the server.
const CODE_SETTINGS = /preload_libraries$|^dynamic_library_path$/i;
const ROLE_OPTIONS = /^(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS)$/;

// Splits the file into tokens; anything psql could read as more than SQL (a backslash, a :variable, a
// dollar quote, E'' strings, block comments) is refused.
function tokenize(text: string, refuse: (why: string) => never): Token[] {
  const tokens: Token[] = [];
  const lexer = /\s+|--[^\n]*|([A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)|("(?:[^"]|"")*")|('(?:[^']|'')*')|(-?\d+)|([;,=().])/y;
  let line = 1;
  let previous = '';
  while (lexer.lastIndex < text.length) {
    const at = lexer.lastIndex;
    const match = lexer.exec(text);
    if (!match) refuse(`line ${line}: ${JSON.stringify(text.slice(at, at + 40).split('\n')[0])} is not a role or tablespace statement pg_dumpall writes`);
    const [all, word, name, string, number, punct] = match;
    if (word !== undefined) tokens.push({ kind: 'word', text: word, value: word.toLowerCase() });
    else if (name !== undefined) tokens.push({ kind: 'name', text: name, value: name.slice(1, -1).replace(/""/g, '"') });
    else if (string !== undefined) {
      if (/[A-Za-z0-9_&]$/.test(previous)) refuse(`line ${line}: a prefixed string literal (E'', U&'', B'') is not something pg_dumpall writes`);
      tokens.push({ kind: 'string', text: string, value: string.slice(1, -1).replace(/''/g, "'") });
    } else if (number !== undefined) tokens.push({ kind: 'number', text: number, value: number });
    else if (punct !== undefined) tokens.push({ kind: 'punct', text: punct, value: punct });
    previous = all;
    line += all.split('\n').length - 1;
  }
  return tokens;
}

// One statement being matched, token by token.
class Statement {
  private at = 0;
  constructor(readonly tokens: Token[]) {}
  // The next token if it is the keyword `word` (consumed), else undefined.
  keyword(...words: string[]): string | undefined {
    const token = this.tokens[this.at];
    if (token?.kind === 'word' && words.includes(token.text.toUpperCase())) {
      this.at++;
      return token.text.toUpperCase();
    }
    return undefined;
  }
  // Bare special words met where a role is named (CURRENT_USER, PUBLIC, ALL...).
  readonly specials: string[] = [];
  // The next token if it is an identifier (bare or quoted), its name.
  name(): string | undefined {
    const token = this.tokens[this.at];
    if (token?.kind === 'word' || token?.kind === 'name') {
      this.at++;
      return token.value;
    }
    return undefined;
  }
  // The next token as a role name; a bare special word is noted in `specials`.
  role(): string | undefined {
    const token = this.tokens[this.at];
    const name = this.name();
    if (token?.kind === 'word' && NOT_A_ROLE.has(token.value)) this.specials.push(token.text);
    return name;
  }
  take(kind: Token['kind'], text?: string): Token | undefined {
    const token = this.tokens[this.at];
    if (token?.kind === kind && (text === undefined || token.text === text)) {
      this.at++;
      return token;
    }
    return undefined;
  }
  // A comma-separated list of `item`s (at least one).
  list<T>(item: () => T | undefined): T[] | undefined {
    const items: T[] = [];
    do {
      const value = item();
      if (value === undefined) return undefined;
      items.push(value);
    } while (this.take('punct', ','));
    return items;
  }
  get done(): boolean {
    return this.at === this.tokens.length;
  }
  get text(): string {
    return this.tokens.map((token) => token.text).join(' ');
  }
}

// What a statement does to which role, once parsed.
interface Parsed {
  // The role the statement is about (CREATE/ALTER/COMMENT ON ROLE), if any.
  role?: string;
  create?: 'role' | 'tablespace';
  tablespace?: string;
  superuser?: boolean;
  // Roles granted by GRANT role TO role.
  granted?: string[];
  setting?: string;
  // CREATEROLE, REPLICATION, BYPASSRLS given to the role.
  powers?: string[];
  // A role position holding CURRENT_USER, SESSION_USER, CURRENT_ROLE, PUBLIC or ALL.
  special?: string;
}

// Parses one statement; undefined when it is not one pg_dumpall writes for roles and tablespaces.
function parse(statement: Statement): Parsed | undefined {
  const s = statement;
  const roleOptions = (parsed: Parsed): Parsed | undefined => {
    s.keyword('WITH');
    while (!s.done) {
      const option = s.keyword('SUPERUSER', 'NOSUPERUSER', 'CREATEDB', 'NOCREATEDB', 'CREATEROLE', 'NOCREATEROLE', 'INHERIT', 'NOINHERIT', 'LOGIN', 'NOLOGIN', 'REPLICATION', 'NOREPLICATION', 'BYPASSRLS', 'NOBYPASSRLS', 'CONNECTION', 'ENCRYPTED', 'PASSWORD', 'VALID');
      if (!option) return undefined;
      if (ROLE_OPTIONS.test(option)) {
        if (option === 'SUPERUSER') parsed.superuser = true;
        if (POWERS.includes(option)) parsed.powers = [...(parsed.powers ?? []), option];
      } else if (option === 'CONNECTION') {
        if (!s.keyword('LIMIT') || !s.take('number')) return undefined;
      } else if (option === 'ENCRYPTED' || option === 'PASSWORD') {
        if (option === 'ENCRYPTED' && !s.keyword('PASSWORD')) return undefined;
        if (!s.take('string') && !s.keyword('NULL')) return undefined;
      } else if (!s.keyword('UNTIL') || !s.take('string')) return undefined;
    }
    return parsed;
  };
  const value = () => s.take('string') ?? s.take('number') ?? s.take('word') ?? s.take('name');
  if (s.keyword('SET')) {
    const name = s.name();
    if (!(s.take('punct', '=') || s.keyword('TO'))) return undefined;
    const setting = value();
    if (!s.done || !setting) return undefined;
    const ok =
      (name === 'default_transaction_read_only' && /^(off|false)$/i.test(setting.value)) ||
      (name === 'standard_conforming_strings' && /^on$/i.test(setting.value)) ||
      (name === 'client_encoding' && SAFE_ENCODINGS.test(setting.value));
    return ok ? {} : undefined;
  }
  if (s.keyword('CREATE')) {
    if (s.keyword('ROLE')) {
      const role = s.role();
      return role === undefined ? undefined : roleOptions({ role, create: 'role' });
    }
    if (s.keyword('TABLESPACE')) {
      const tablespace = s.name();
      if (tablespace === undefined) return undefined;
      if (s.keyword('OWNER') && s.role() === undefined) return undefined;
      if (!s.keyword('LOCATION') || !s.take('string') || !s.done) return undefined;
      return { tablespace, create: 'tablespace' };
    }
    return undefined;
  }
  if (s.keyword('ALTER')) {
    if (s.keyword('ROLE')) {
      const role = s.role();
      if (role === undefined) return undefined;
      if (s.keyword('IN')) {
        if (!s.keyword('DATABASE') || s.name() === undefined) return undefined;
      }
      if (s.keyword('SET')) {
        const parts = [s.name()];
        while (s.take('punct', '.')) parts.push(s.name());
        if (parts.includes(undefined) || !(s.take('punct', '=') || s.keyword('TO'))) return undefined;
        if (!s.list(value) || !s.done) return undefined;
        return { role, setting: parts.join('.') };
      }
      return roleOptions({ role });
    }
    if (s.keyword('TABLESPACE')) {
      const tablespace = s.name();
      if (tablespace === undefined) return undefined;
      if (s.keyword('OWNER')) return s.keyword('TO') && s.role() !== undefined && s.done ? { tablespace } : undefined;
      if (!s.keyword('SET') || !s.take('punct', '(')) return undefined;
      const option = () => (s.name() !== undefined && s.take('punct', '=') && value() ? true : undefined);
      return s.list(option) && s.take('punct', ')') && s.done ? { tablespace } : undefined;
    }
    return undefined;
  }
  if (s.keyword('COMMENT')) {
    if (!s.keyword('ON')) return undefined;
    const kind = s.keyword('ROLE', 'TABLESPACE');
    const name = kind === 'ROLE' ? s.role() : s.name();
    if (!kind || name === undefined || !s.keyword('IS') || !(s.take('string') || s.keyword('NULL')) || !s.done) return undefined;
    return kind === 'ROLE' ? { role: name } : { tablespace: name };
  }
  if (s.keyword('GRANT', 'REVOKE')) {
    const revoke = s.tokens[0].text.toUpperCase() === 'REVOKE';
    // GRANT|REVOKE ALL|CREATE [PRIVILEGES] ON TABLESPACE t TO|FROM roles
    if (s.keyword('ALL', 'CREATE')) {
      s.keyword('PRIVILEGES');
      if (!s.keyword('ON') || !s.keyword('TABLESPACE') || s.name() === undefined) return undefined;
      if (!s.keyword(revoke ? 'FROM' : 'TO') || !s.list(() => s.name())) return undefined;
      if (!revoke && s.keyword('WITH') && !(s.keyword('GRANT') && s.keyword('OPTION'))) return undefined;
      return s.done ? {} : undefined;
    }
    if (revoke) return undefined;
    // GRANT role[, role] TO role[, role] [WITH ADMIN OPTION | WITH ADMIN|INHERIT|SET TRUE|FALSE, ...] [GRANTED BY role]
    const granted = s.list(() => s.role());
    if (!granted || !s.keyword('TO') || !s.list(() => s.role())) return undefined;
    if (s.keyword('WITH')) {
      const grantOption = () => (s.keyword('ADMIN', 'INHERIT', 'SET') && s.keyword('OPTION', 'TRUE', 'FALSE') ? true : undefined);
      if (!s.list(grantOption)) return undefined;
    }
    if (s.keyword('GRANTED') && !(s.keyword('BY') && s.role() !== undefined)) return undefined;
    return s.done ? { granted } : undefined;
  }
  return undefined;
}

// What the server has: its roles (superusers apart, and the attributes in POWERS each role holds),
// tablespaces, and who is connected (kept like a superuser).
export interface ServerState {
  superusers: Set<string>;
  roles: Set<string>;
  tablespaces: Set<string>;
  // Role name -> the POWERS it has (absent: none).
  powers?: Map<string, Set<string>>;
}

// Reads the ServerState.
async function serverState(config: PostgresDatabase, ctx: EngineContext): Promise<ServerState> {
  const sql = `SELECT CASE WHEN rolsuper THEN 's' ELSE 'r' END || CASE WHEN rolcreaterole THEN 'C' ELSE '-' END
  || CASE WHEN rolreplication THEN 'R' ELSE '-' END || CASE WHEN rolbypassrls THEN 'B' ELSE '-' END || rolname FROM pg_catalog.pg_roles
UNION ALL SELECT 't---' || spcname FROM pg_catalog.pg_tablespace UNION ALL SELECT 'c---' || current_user;\n`;
  const out = await runToolText(tool('psql', ['-X', '-A', '-t', '-0', '-v', 'ON_ERROR_STOP=1', '--dbname', 'postgres'], config, ALL, ctx), ctx, sql);
  const state: ServerState = { superusers: new Set<string>(), roles: new Set<string>(), tablespaces: new Set<string>(), powers: new Map() };
  for (const record of out.split('\0').map((entry) => entry.replace(/^\n/, '')).filter(Boolean)) {
    // Names compare byte for byte with the file's (read as latin1).
    const name = Buffer.from(record.slice(4), 'utf8').toString('latin1');
    if (record[0] === 's' || record[0] === 'c') state.superusers.add(name);
    if (record[0] !== 't') state.roles.add(name);
    else state.tablespaces.add(name);
    const powers = POWERS.filter((_power, i) => record[i + 1] !== '-');
    if (record[0] === 'r' && powers.length) state.powers!.set(name, new Set(powers));
  }
  return state;
}

// The script to run: the accepted statements of `text`, without those about the server's superusers (and
// the connected user), roles and tablespaces that exist already; throws naming the first statement that
// is not allowed. `skipped` lists what was left out.
export function globalsScript(text: string, server: ServerState, what: string): { script: string; skipped: string[] } {
  const refuse = (why: string): never => {
    throw new LifeboatError('DATABASE', `${what}: ${why}; nothing was loaded`, {
      hint: 'a pg_dumpall --globals-only file holds only roles and tablespaces: this one may have been altered in the repository; restore the roles by hand after reading it',
    });
  };
  // pg_dumpall (15.14 and later) brackets its output with \restrict KEY ... \unrestrict KEY: dropped, not run.
  const lines = text.split('\n').map((line) => (/^\\(un)?restrict [A-Za-z0-9]+\r?$/.test(line) ? '' : line));
  const tokens = tokenize(lines.join('\n'), refuse);
  const statements: Token[][] = [[]];
  for (const token of tokens) {
    if (token.kind === 'punct' && token.text === ';') statements.push([]);
    else statements.at(-1)!.push(token);
  }
  if (statements.at(-1)!.length) refuse(`the file ends inside a statement (${new Statement(statements.at(-1)!).text.slice(0, 80)})`);
  const made = new Set<string>();
  const accepted: string[] = [];
  const skipped: string[] = [];
  for (const tokens of statements.slice(0, -1)) {
    if (tokens.length === 0) continue;
    const statement = new Statement(tokens);
    const parsed = parse(statement);
    const text = statement.text;
    const quoted = JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);
    if (!parsed) refuse(`${quoted} is not a role or tablespace statement pg_dumpall writes`);
    const { role, create, tablespace, superuser, granted, setting, powers } = parsed!;
    if (statement.specials.length) refuse(`${quoted} names ${statement.specials[0].toUpperCase()} where a role of the file belongs (it would reach the connected superuser, every role or everyone)`);
    if (role !== undefined && server.superusers.has(role)) {
      skipped.push(text);
      continue;
    }
    if (superuser) refuse(`${quoted} makes role "${role}" a superuser, which it is not on this server`);
    if (setting && CODE_SETTINGS.test(setting)) refuse(`${quoted} sets ${setting}, which loads code into the server`);
    for (const power of powers ?? []) {
      const had = role !== undefined && server.powers?.get(role)?.has(power);
      if (!had) refuse(`${quoted} gives role "${role}" ${power}, which it does not have on this server (${power === 'CREATEROLE' ? 'as good as superuser' : 'passes around the server\'s protections'})`);
    }
    for (const name of granted ?? []) {
      if (server.superusers.has(name) || SERVER_ROLES.has(name)) refuse(`${quoted} grants role "${name}", which ${SERVER_ROLES.has(name) ? 'reads, writes or runs programs on the server' : 'is a superuser'}`);
      if (name.startsWith('pg_')) refuse(`${quoted} grants the predefined role "${name}", which reaches every database or the server itself`);
    }
    if (create === 'role' && role !== undefined) {
      if (server.roles.has(role) || made.has(role)) {
        skipped.push(text);
        continue;
      }
      made.add(role);
    }
    if (create === 'tablespace' && tablespace !== undefined && server.tablespaces.has(tablespace)) {
      skipped.push(text);
      continue;
    }
    accepted.push(`${text};\n`);
  }
  return { script: `SET standard_conforming_strings = on;\n${accepted.join('')}`, skipped };
}

// Reads a source into memory (a globals file is small), refusing one larger than MAX_BYTES.
async function readAll(source: LoadSource, what: string): Promise<Buffer> {
  const input: Readable = 'path' in source ? createReadStream(source.path) : source.stream;
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > MAX_BYTES) {
      input.destroy();
      throw new LifeboatError('DATABASE', `${what}: it is larger than ${MAX_BYTES >> 20} MiB, which no pg_dumpall --globals-only file is; nothing was loaded`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

// The restore drill's check of a globals file: the same parsing a restore does (against this server's
// roles), so verify fails on a file that restore would refuse; the file is never run.
export async function checkGlobals(config: PostgresDatabase, file: string, ctx: EngineContext): Promise<string> {
  const label = `PostgreSQL roles on ${whereOf(config)}`;
  const what = `${label}: the roles file ${file} would be refused by a restore`;
  const text = (await readAll({ path: file }, what)).toString('latin1');
  const { script } = globalsScript(text, await serverState(config, ctx), what);
  const statements = script.split(';\n').filter((statement) => statement.trim() && !/^SET /.test(statement));
  return `${statements.length} role and tablespace statement(s), all of a kind a restore loads`;
}

// Loads pg_dumpall --globals-only output: checked as a whole first, then run by psql with ON_ERROR_STOP.
export async function loadGlobals(config: PostgresDatabase, source: LoadSource, ctx: EngineContext): Promise<void> {
  const label = `PostgreSQL roles on ${whereOf(config)}`;
  const what = `${label}: the roles file ${'path' in source ? source.path : 'on stdin'} cannot be loaded`;
  const text = (await readAll(source, what)).toString('latin1');
  const { script, skipped } = globalsScript(text, await serverState(config, ctx), what);
  if (skipped.length) ctx.log.info(`${label}: ${skipped.length} statement(s) about roles and tablespaces that exist already, or about the server's superusers, left as they are`);
  const spec = tool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--dbname', 'postgres'], config, ALL, ctx);
  await loadIntoTool({ ...spec, label, env: { ...spec.env, PGCLIENTENCODING: undefined } }, ReadableStream.from([Buffer.from(script, 'latin1')]), ctx);
}
