// `lifeboat load postgres|mysql|redis|sqlite [options] < DUMP` (or --input FILE) loads one dump;
// `lifeboat load MODULE [--input DIR]` loads the module's dumps from its state dir, as 30restore_databases does.
import { existsSync, statSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { createLogger, loadForCommand } from './common.js';
import { LifeboatError } from '../errors.js';
import { DUMP_DIR, loadJobs, type LoadSource } from '../engines/index.js';
import { interruptSignal } from '../lifecycle/signals.js';
import { ENGINES, entryFromOptions, type EngineOptions } from './dump.js';

// `lifeboat load WHAT`.
export async function loadCommand([what]: unknown[], options: EngineOptions): Promise<number> {
  const log = createLogger(options);
  const signal = interruptSignal();
  if ((ENGINES as readonly string[]).includes(what as string)) {
    const entry = JSON.parse(JSON.stringify(entryFromOptions(what as string, options)));
    if ('postgres' in entry && entry.postgres.database === 'all') throw new LifeboatError('USAGE', '--database all: load each dump with --database NAME (or `lifeboat load MODULE`)');
    const [job] = loadJobs([entry], os.tmpdir());
    if (!options.input && process.stdin.isTTY) throw new LifeboatError('USAGE', 'give the dump on stdin (< FILE) or with --input FILE');
    // No engine writes an empty dump (even an empty database dumps a few statements): 0 bytes is a wrong
    // redirect or a file cut to nothing, and loading it would report success having loaded nothing.
    const input = options.input ? path.resolve(options.input) : undefined;
    if (input && existsSync(input) && statSync(input).size === 0) throw new LifeboatError('USAGE', `the dump ${input} is empty (0 bytes); nothing was loaded`);
    const source: LoadSource = input ? { path: input } : { stream: await nonEmpty(process.stdin) };
    await job.load(source, { env: process.env, log, signal, workDir: os.tmpdir() });
    log.info(`loaded ${job.label}`);
    return 0;
  }
  const { root, modules } = loadForCommand(options, [what as string], log);
  const module = modules[0];
  if (module.databases.length === 0) throw new LifeboatError('USAGE', `module ${module.name} declares no databases (databases: in ${module.file})`);
  log.masker.addEnv(root.rootEnv, module.env);
  const dir = path.resolve(options.input ?? path.join(module.stateDir, DUMP_DIR));
  const ctx = { env: { ...process.env, ...root.rootEnv, ...module.env }, log, signal, workDir: module.stateDir };
  for (const job of loadJobs(module.databases, dir)) {
    const file = path.join(dir, job.file);
    if (!existsSync(file)) throw new LifeboatError('DATABASE', `no dump of ${job.label} at ${file}`);
    await job.load({ path: file }, ctx);
    log.info(`loaded ${job.label} from ${file}`);
  }
  return 0;
}

// The stream from its first byte on; an input that ends before any byte is refused (exit 2).
async function nonEmpty(input: Readable): Promise<Readable> {
  const first = await new Promise<Buffer | null>((resolve, reject) => {
    const onReadable = () => {
      const chunk = input.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      resolve(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    input.on('readable', onReadable);
    input.on('end', onEnd);
    input.on('error', onError);
  });
  if (first === null) throw new LifeboatError('USAGE', 'the dump on stdin is empty (0 bytes); nothing was loaded', { hint: 'give the dump file: lifeboat load ENGINE ... < FILE (or --input FILE)' });
  const output = new PassThrough();
  output.write(first);
  input.pipe(output);
  return output;
}
