// JSON Schema validation with ajv; each error becomes one line: file, JSON path, what was found, the fix.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { SCHEMA_DIR } from './paths.js';

type Validators = { lifeboat: ValidateFunction; module: ValidateFunction };
let validators: Validators | undefined;

// The validators: precompiled at build time (scripts/build-validators.mjs) when present, else compiled now.
function getValidators(): Validators {
  if (validators) return validators;
  try {
    validators = createRequire(import.meta.url)('./validators.cjs') as Validators;
    return validators;
  } catch {
    validators = compileValidators();
    return validators;
  }
}

// Compiles both schemas with ajv (running from source, e.g. in tests; ~100 ms, so only when needed).
export function compileValidators(): Validators {
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
  const lifeboat = JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'lifeboat.schema.json'), 'utf8'));
  const module = JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'module.schema.json'), 'utf8'));
  ajv.addSchema(lifeboat);
  return { lifeboat: ajv.getSchema(lifeboat.$id)!, module: ajv.compile(module) };
}

// Boolean keys of module.yaml that may come from the environment (`stopDuringBackup: ${STOP:-true}`).
const MODULE_BOOLEANS = [['service', 'stopDuringBackup'], ['enabled'], ['databases', '*', '*', 'stream'], ['databases', '*', '*', 'scratch']];
const BOOLEAN_TEXT: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };

// Turns "true"/"false"/"1"/"0" (what ${VAR} gives) into booleans at the boolean keys, in place.
function coerceBooleans(data: unknown, keys: string[][]): void {
  const visit = (node: unknown, rest: string[]): void => {
    if (node === null || typeof node !== 'object') return;
    const [key, ...more] = rest;
    const record = node as Record<string, unknown>;
    const children = key === '*' ? Object.keys(record) : [key];
    for (const child of children) {
      if (more.length > 0) visit(record[child], more);
      else if (typeof record[child] === 'string' && record[child] as string in BOOLEAN_TEXT) record[child] = BOOLEAN_TEXT[record[child] as string];
    }
  };
  for (const key of keys) visit(data, key);
}

// Validates a parsed document; returns one message per problem (empty when valid).
export function validateDocument(kind: 'lifeboat' | 'module', data: unknown, displayName: string): string[] {
  if (kind === 'module') coerceBooleans(data, MODULE_BOOLEANS);
  const validate = getValidators()[kind];
  if (validate(data)) return [];
  const seen = new Set<string>();
  const messages: string[] = [];
  for (const error of simplifyErrors(validate.errors ?? [])) {
    const message = `${displayName}: ${formatError(error, data)}`;
    if (!seen.has(message)) {
      seen.add(message);
      messages.push(message);
    }
  }
  return messages;
}

// Drops errors that only echo a more precise one (e.g. the `if` wrapper or parent of a nested failure).
function simplifyErrors(errors: ErrorObject[]): ErrorObject[] {
  return errors.filter((error) => error.keyword !== 'if');
}

// Renders one ajv error the way a person needs it.
function formatError(error: ErrorObject, data: unknown): string {
  const where = error.instancePath || '/';
  const found = describeValue(valueAt(data, error.instancePath));
  const hint = (error.parentSchema as { 'x-hint'?: string } | undefined)?.['x-hint'];
  const fix = hint ? ` (${hint})` : '';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
      return `${where} must be ${article(String(params.type))}, got ${found}${fix}`;
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((error.parentSchema as { properties?: object }).properties ?? {}).filter((k) => k !== '$schema');
      const close = closest(key, allowed);
      const suggestion = close ? `; did you mean "${close}"?` : allowed.length ? `; allowed keys: ${allowed.join(', ')}` : '';
      return `${joinPath(error.instancePath, key)} is not a known key${suggestion}${fix}`;
    }
    case 'required':
      return `${joinPath(error.instancePath, String(params.missingProperty))} is required but missing${fix}`;
    case 'enum':
      return `${where} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${found}`;
    case 'pattern':
      return `${where} must match ${params.pattern}, got ${found}${fix}`;
    case 'propertyNames':
      return `${where} has an invalid key ${JSON.stringify(params.propertyName)}: names match ^[a-z0-9][a-z0-9_-]{0,62}$`;
    case 'minProperties':
    case 'maxProperties':
      return `${where} ${error.message}, got ${found}${fix}`;
    default:
      return `${where} ${error.message ?? 'is invalid'}, got ${found}${fix}`;
  }
}

// Follows a JSON pointer into the parsed document.
function valueAt(data: unknown, pointer: string): unknown {
  if (!pointer) return data;
  let current: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

// Short, quoted rendering of a found value for messages.
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// "a string", "an object", "an integer".
function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function joinPath(base: string, key: string): string {
  return `${base}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

// Suggests the allowed key closest to a misspelled one (Levenshtein distance ≤ 2).
function closest(key: string, allowed: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  const wanted = key.toLowerCase();
  for (const candidate of allowed) {
    const lower = candidate.toLowerCase();
    // A misspelled prefix counts too: "pasword" is one edit from "password", the start of "passwordFile".
    const prefixDistance = Math.min(levenshtein(wanted, lower.slice(0, wanted.length)), levenshtein(wanted, lower.slice(0, wanted.length + 1))) + 1;
    const distance = Math.min(levenshtein(wanted, lower), prefixDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length];
}
