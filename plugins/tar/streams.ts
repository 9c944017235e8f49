// The stream stages of the tar provider: compressors (zstd via the binary, gzip via zlib), a hashing
// tap, and sinks. A sink is where the archive bytes go; today a local file written as <name>.partial
// and renamed on commit, later an S3 multipart upload with the same three calls.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { Duplex, PassThrough, Transform, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { LifeboatError } from '../../src/errors.js';
import { discardPartial } from '../../src/files/partial-file.js';
import { start } from '../../src/process/runner.js';

export type Compression = 'zstd' | 'gzip' | 'none';

export const EXTENSIONS: Record<Compression, string> = { zstd: '.tar.zst', gzip: '.tar.gz', none: '.tar' };

export interface ArchiveSink {
  // Where the bytes are written.
  stream: Writable;
  // Makes the archive visible under its final name (after every byte is durable).
  commit(): Promise<void>;
  // Removes whatever was written; called on any failure.
  abort(): Promise<void>;
}

// A local file sink: <file>.partial (exclusive create), fsync, rename to <file>.
export function createFileSink(file: string): ArchiveSink {
  const partial = `${file}.partial`;
  const stream = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  return {
    stream,
    async commit() {
      const handle = await open(partial, 'r');
      await handle.sync().finally(() => handle.close());
      await rename(partial, file);
    },
    abort: () => discardPartial(stream, partial),
  };
}

// Writes a small file atomically (temp name, fsync, rename): the manifest that marks an archive complete.
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const partial = `${file}.partial`;
  const handle = await open(partial, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, file);
}

// The compressing stage of the create pipeline.
export function createCompressor(compression: Compression): Duplex {
  if (compression === 'zstd') return zstd(['-q', '-c', '-3', '-T0']);
  if (compression === 'gzip') return createGzip();
  return new PassThrough();
}

// The decompressing stage of the restore and check pipelines.
export function createDecompressor(compression: Compression): Duplex {
  if (compression === 'zstd') return zstd(['-d', '-q', '-c']);
  if (compression === 'gzip') return createGunzip();
  return new PassThrough();
}

// The zstd binary as a duplex stream that fails (instead of ending) when zstd exits non-zero. It runs in
// its own process group: Ctrl-C in a terminal reaches Lifeboat only, which stops the pipeline (and so
// zstd) and reports the interruption, instead of zstd dying first and the run failing with EPIPE.
function zstd(args: string[]): Duplex {
  const proc = start('zstd', { args, group: true });
  const child = proc.child;
  const output = new PassThrough();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdout!.pipe(output, { end: false });
  child.stdin!.on('error', () => {}); // EPIPE when zstd dies; the exit status below says why
  const duplex = Duplex.from({ writable: child.stdin!, readable: output });
  child.on('error', (error: NodeJS.ErrnoException) => {
    const message = error.code === 'ENOENT' ? 'zstd is not installed (not found on PATH)' : `zstd could not start: ${error.message}`;
    duplex.destroy(new LifeboatError('PROVIDER', message, { hint: 'install it (Debian: apt-get install zstd) or set compression: gzip on the repository', cause: error }));
  });
  child.on('close', (code, signal) => {
    if (code === 0) output.end();
    else duplex.destroy(new LifeboatError('PROVIDER', `zstd ${args.includes('-d') ? 'decompression' : 'compression'} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`));
  });
  duplex.on('close', () => {
    if (child.exitCode === null) proc.signal('SIGTERM');
  });
  return duplex;
}

// A pass-through stage that counts and hashes the bytes flowing by.
export class HashTap extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  // onBytes, when given, hears the running byte count (progress).
  constructor(private readonly onBytes?: (bytes: number) => void) {
    super();
  }

  // Hashes each chunk on its way through.
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    callback(null, chunk);
  }

  // The hex digest, once the stream has ended.
  digest(): string {
    return this.hash.digest('hex');
  }
}
