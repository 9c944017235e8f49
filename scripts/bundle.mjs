// Bundles the CLI into dist/bundle/ with esbuild, after tsc and build-validators (npm run build), so a
// command starts by loading a few files instead of ~240 ES modules (execa alone is ~100 files).
// bin/lifeboat runs dist/bundle/main.js when it is there and not older than tsc's dist/src/cli/main.js, and
// falls back to dist/src/cli/main.js otherwise. Code splitting keeps the lazy loading of the unbundled
// build: each command, built-in part and provider stays a chunk loaded only when it runs.
//  - entries: main.js (the CLI) and manifest-worker.js (the worker src/lifecycle/manifest.ts starts from
//    new URL('./manifest-worker.js', import.meta.url): every chunk is in the same folder, so it resolves);
//  - validators.cjs (precompiled schemas, loaded by src/config/validate.ts relative to itself) is copied in;
//  - @aws-sdk/* (only `lifeboat s3` and S3 stores use it) and ajv stay in node_modules;
//  - a `require` is defined in each file for the CommonJS packages bundled (commander, yaml, ...).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const outdir = path.join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts', 'manifest-worker': 'src/lifecycle/manifest-worker.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['@aws-sdk/*', 'ajv', 'ajv/*'],
  banner: { js: "import { createRequire as __lifeboatCreateRequire } from 'node:module'; const require = __lifeboatCreateRequire(import.meta.url);" },
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
});
// `lifeboat run-parts` must start about as fast as Debian's run-parts: one CommonJS file, loaded with
// require() by bin/lifeboat (read synchronously; an ES module graph is read through the thread pool), its
// lazy imports (the ERE port, the runner) inlined and compiled only when called.
await build({
  absWorkingDir: root,
  entryPoints: { 'run-parts': 'src/cli/run-parts.ts' },
  outfile: path.join(outdir, 'run-parts.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
copyFileSync(path.join(root, 'dist', 'src', 'config', 'validators.cjs'), path.join(outdir, 'validators.cjs'));
console.log(`wrote ${path.relative(root, outdir)}/`);
