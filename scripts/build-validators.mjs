// Compiles the JSON Schemas into standalone validator code (dist/src/config/validators.cjs) at build time,
// so commands that load the configuration do not pay for ajv's compiler at every start (~100 ms).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const schemaDir = path.join(root, 'src', 'config', 'schema');
const read = (name) => JSON.parse(readFileSync(path.join(schemaDir, name), 'utf8'));
// The same options as src/config/validate.ts uses at run time.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, code: { source: true } });
const lifeboat = read('lifeboat.schema.json');
const module = read('module.schema.json');
ajv.addSchema(lifeboat);
ajv.addSchema(module);
const code = standaloneCode.default ? standaloneCode.default(ajv, { lifeboat: lifeboat.$id, module: module.$id }) : standaloneCode(ajv, { lifeboat: lifeboat.$id, module: module.$id });
const out = path.join(root, 'dist', 'src', 'config', 'validators.cjs');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, code);
console.log(`wrote ${path.relative(root, out)}`);
