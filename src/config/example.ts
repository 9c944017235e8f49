// The commented reference of every key of lifeboat.yaml and module.yaml, generated from the JSON Schemas
// (their `description`s) so it cannot drift from what Lifeboat accepts. `lifeboat init --example` appends
// it to the files it writes: `##` lines explain, `#` lines are settings to uncomment.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { SCHEMA_DIR } from './paths.js';

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  $ref?: string;
  definitions?: Record<string, Schema>;
  // Keys of which an entry has exactly one (notify: webhook, ntfy, sendmail, command): each starts its
  // own list item, so an uncommented block is a valid list.
  'x-alternatives'?: string[];
}

// Example values for strings, by key (a description says what a key is; this only fills the blank).
const STRING_EXAMPLES: Record<string, string> = {
  schedule: '0 3 * * *',
  url: '/var/backups/lifeboat',
  passwordCommand: 'pass show lifeboat/restic',
  upload: 's3://bucket/prefix',
  endpoint: 'https://s3.example.com',
  region: 'us-east-1',
  webhook: 'https://hc-ping.com/your-uuid',
  ntfy: 'https://ntfy.sh/your-topic',
  to: 'ops@example.org',
  from: 'lifeboat@example.org',
  command: '/usr/local/bin/notify-chat',
  host: '127.0.0.1',
  user: 'backup',
  database: 'app',
  systemd: 'app.service',
  container: 'app',
  stop: 'systemctl stop app',
  start: 'systemctl start app',
  isActive: 'systemctl is-active --quiet app',
  passwordEnv: 'DB_PASSWORD',
  name: 'app',
  provider: 'restic',
};
const PATH_EXAMPLES: Record<string, string> = {
  passwordFile: '/etc/lifeboat/repository.pass',
  cacert: '/etc/lifeboat/ca.pem',
  command: '/usr/sbin/sendmail',
  path: '/var/lib/app/db.sqlite3',
  identityFile: '/etc/lifeboat/age.key',
};
const ARRAY_EXAMPLES: Record<string, string> = { exclude: '*.tmp', modules: 'app', repositories: 'local', keys: 'app:*', options: '--no-owner', loadOptions: '--no-owner', recipients: 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p' };
const NUMBER_EXAMPLES: Record<string, number> = { port: 5432, part: 3600, killAfter: 10, timeout: 5, queueSize: 3, retries: 4, retryDelay: 1 };
// Where the same key means something else under another parent ("<parent>.<key>"; "" is the top level):
// values a newcomer can copy as they are.
const PARENT_EXAMPLES: Record<string, unknown> = {
  '.host': 'backup01.example.org',
  'local.timeout': 60,
  'local.partSize': 8388608,
  'prune.every': '7d',
  'notify.priority': 'high',
  'mysql.port': 3306,
  'mysql.options': ['--skip-comments'],
  'mysql.loadOptions': ['--max-allowed-packet=1G'],
  'postgres.passwordFile': '/etc/lifeboat/app-db.pass',
  'mysql.passwordFile': '/etc/lifeboat/app-db.pass',
  'redis.passwordFile': '/etc/lifeboat/app-redis.pass',
  '.umask': '027',
};

// The whole reference for one file.
export function renderReference(kind: 'lifeboat' | 'module'): string {
  const schemas = { lifeboat: readSchema('lifeboat'), module: readSchema('module') };
  const lines = [
    `## Every key of ${kind === 'lifeboat' ? 'lifeboat.yaml' : 'module.yaml'}, generated from ${kind}.schema.json by \`lifeboat init --example\`.`,
    '## "##" lines explain; "#" lines are settings: uncomment one (and its parents) to use it.',
  ];
  renderProperties(schemas[kind], 0, lines, schemas);
  return `${lines.join('\n')}\n`;
}

function readSchema(kind: string): Schema {
  return JSON.parse(readFileSync(path.join(SCHEMA_DIR, `${kind}.schema.json`), 'utf8')) as Schema;
}

// Follows "#/definitions/x" and "lifeboat.schema.json#/definitions/x".
function resolve(schema: Schema, schemas: Record<string, Schema>): Schema {
  if (!schema.$ref) return schema;
  const [file, pointer] = schema.$ref.split('#');
  const base = file ? schemas[file.replace('.schema.json', '')] : schemas.lifeboat;
  const name = pointer.split('/').pop()!;
  return { ...base.definitions![name], ...(schema.description ? { description: schema.description } : {}) };
}

// Every property of an object schema, at `indent` spaces.
function renderProperties(schema: Schema, indent: number, lines: string[], schemas: Record<string, Schema>, parent = ''): void {
  for (const [key, raw] of Object.entries(schema.properties ?? {})) {
    if (key === '$schema') continue;
    renderKey(key, resolve(raw, schemas), indent, lines, schemas, '', parent);
  }
}

// One key: its description, then the key with an example value or its nested keys.
function renderKey(key: string, schema: Schema, indent: number, lines: string[], schemas: Record<string, Schema>, bullet: string, parent = ''): void {
  const pad = ' '.repeat(indent);
  if (schema.description) lines.push(`##${pad} ${bullet ? '  ' : ''}${schema.description}`);
  const nested = schema.properties;
  const map = typeof schema.additionalProperties === 'object' ? resolve(schema.additionalProperties, schemas) : undefined;
  const items = schema.items ? resolve(schema.items, schemas) : undefined;
  if (nested) {
    lines.push(`#${pad} ${bullet}${key}:`);
    renderProperties(schema, indent + 2 + bullet.length, lines, schemas, key);
  } else if (map) {
    lines.push(`#${pad} ${bullet}${key}:`);
    if (map.properties) renderKey(key === 'repositories' ? 'local' : 'name', map, indent + 2 + bullet.length, lines, schemas, '');
    else lines.push(`#${pad}   ${bullet ? '  ' : ''}NAME: value`);
  } else if (items?.properties) {
    lines.push(`#${pad} ${bullet}${key}:`);
    const entries = Object.entries(items.properties).map(([name, sub]) => [name, resolve(sub, schemas)] as const);
    // Alternatives (databases: postgres, mysql, ...) are one list item each; plain keys share one item.
    const alternatives = entries.every(([, sub]) => sub.properties);
    const starts = (name: string, index: number) => alternatives || (items['x-alternatives'] ? items['x-alternatives'].includes(name) : index === 0);
    entries.forEach(([name, sub], index) => renderKey(name, sub, indent + 2, lines, schemas, starts(name, index) ? '- ' : '  ', key));
  } else {
    lines.push(`#${pad} ${bullet}${key}: ${exampleValue(key, schema, items, parent)}`);
  }
}

// A plausible value for a leaf key, in YAML flow style.
function exampleValue(key: string, schema: Schema, items: Schema | undefined, parent: string): string {
  const flow = (value: unknown) => stringify(value, { collectionStyle: 'flow' }).trim();
  if (`${parent}.${key}` in PARENT_EXAMPLES) return flow(PARENT_EXAMPLES[`${parent}.${key}`]);
  if (schema.enum) return flow(schema.enum[0]);
  if (schema.type === 'boolean') return 'false';
  if (schema.type === 'integer' || schema.type === 'number') return String(NUMBER_EXAMPLES[key] ?? (schema.minimum && schema.minimum > 1 ? schema.minimum : 7));
  if (schema.type === 'array') return flow([items?.enum ? items.enum[0] : items?.pattern === '^/' ? '/var/lib/app' : ARRAY_EXAMPLES[key] ?? 'value']);
  if (schema.type === 'object') return '{}';
  if (schema.pattern === '^/') return flow(PATH_EXAMPLES[key] ?? `/etc/lifeboat/${key}`);
  if (schema.pattern?.startsWith('^(rediss?')) return flow('redis://127.0.0.1:6379/0');
  if (key === 'schedule' && parent === 'verify') return flow('30 4 * * 0');
  return flow(STRING_EXAMPLES[key] ?? 'value');
}
