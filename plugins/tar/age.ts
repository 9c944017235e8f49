// Encrypted tar archives in the age format (https://age-encryption.org/v1), so `age -d` decrypts one
// without Lifeboat: a passphrase (scrypt recipient) from passwordFile/passwordCommand, or X25519
// recipients (`recipients: [age1...]`; `identityFile:` to restore). The age stage sits between the
// compressor and the hash tap: walk -> tar -> zstd -> age -> SHA-256 -> sinks, and back. The library
// (age-encryption, "typage") encrypts and decrypts web streams in 64 KiB STREAM chunks, each
// authenticated before it is released: a flipped byte or a truncated archive fails the chunk it is in.
// The file list beside the archive is encrypted the same way (file-list.ts), so no file name is stored
// in plaintext.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Decrypter, Encrypter, identityToRecipient } from 'age-encryption';
import type { RepositoryConfig } from '../../src/config/types.js';
import { LifeboatError } from '../../src/errors.js';
import { shellOutput } from '../../src/process/runner.js';
import type { ProviderInput } from '../../src/providers/types.js';
import { encryptionProblems } from '../../src/config/tar-encryption.js';
import { ScryptIdentity, ScryptRecipient } from './age-scrypt.js';
import { readPasswordFileAsync } from '../../src/providers/shared.js';

export { AGE_EXTENSION } from '../../src/config/tar-encryption.js';

export type AgeMode = 'passphrase' | 'recipients';

// What a manifest records about an encrypted archive (absent: plaintext).
export interface ArchiveEncryption {
  format: 'age';
  mode: AgeMode;
}

// scrypt work factor (log2 N) for passphrase archives. age's default is 18: 256 MiB for scrypt itself,
// over the provider's memory bound; 15 needs 32 MiB (README).
const SCRYPT_WORK_FACTOR = 15;

// How long a passwordCommand may take.
const PASSWORD_COMMAND_TIMEOUT_MS = 60_000;

// The largest file list a sealed manifest may unpack to (the manifest itself is bounded at 64 MiB).
const MAX_FILES_JSON = 1 << 30;

// A repository's encryption settings: how archives are sealed and where the key comes from.
export class AgeKeys {
  private passphraseText?: Promise<string>;

  constructor(
    readonly mode: AgeMode,
    private readonly config: RepositoryConfig,
    private readonly input: ProviderInput,
  ) {}

  // The repository's keys, or undefined when its archives are plaintext. Bad settings: CONFIG_INVALID.
  static fromConfig(input: ProviderInput): AgeKeys | undefined {
    const { config } = input;
    const problems = encryptionProblems(config, `${input.root.file ?? 'lifeboat.yaml'}: /repositories/${input.name}`);
    if (problems.length) throw new LifeboatError('CONFIG_INVALID', problems[0], { problems });
    if (config.encryption === 'none') return undefined;
    if (config.passwordFile !== undefined || config.passwordCommand !== undefined) return new AgeKeys('passphrase', config, input);
    if (config.recipients !== undefined || config.identityFile !== undefined) return new AgeKeys('recipients', config, input);
    return undefined;
  }

  // What the manifest records.
  get record(): ArchiveEncryption {
    return { format: 'age', mode: this.mode };
  }

  // Where the key comes from, for messages: `passwordFile /etc/lifeboat/tar.pass`.
  describe(mode: AgeMode = this.mode): string {
    const { config } = this;
    if (mode === 'passphrase') {
      if (config.passwordFile !== undefined) return `the passphrase in passwordFile ${this.resolve(config.passwordFile)}`;
      // The command is not quoted: it may hold the passphrase itself (`echo ...`).
      if (config.passwordCommand !== undefined) return 'the passphrase from passwordCommand';
      return 'no passphrase (the repository has none)';
    }
    return config.identityFile !== undefined ? `the identity in identityFile ${this.resolve(config.identityFile)}` : 'no identity (the repository has no identityFile)';
  }

  private resolve(file: string): string {
    return path.resolve(this.input.root.root, file);
  }

  private configError(message: string, hint: string, cause?: unknown): LifeboatError {
    return new LifeboatError('CONFIG_INVALID', `${this.input.root.file ?? 'lifeboat.yaml'}: /repositories/${this.input.name}: ${message}`, { hint, cause });
  }

  // The passphrase (read once): passwordFile without its final newline, or passwordCommand's output line.
  private passphrase(env?: Record<string, string>): Promise<string> {
    this.passphraseText ??= (async () => {
      const { config } = this;
      let text: string;
      if (config.passwordFile !== undefined) {
        const file = this.resolve(config.passwordFile);
        text = await readPasswordFileAsync(file, (reason, hint, cause) => this.configError(reason, hint, cause));
        text = text.replace(/\r?\n$/, '');
      } else {
        // runPasswordCommand rejects with a plain reason; it becomes the CONFIG_INVALID error naming the repository.
        text = await runPasswordCommand(config.passwordCommand!, { ...process.env, ...this.input.root.rootEnv, ...env, ...config.env }).catch((error: Error) => {
          throw this.configError(`passwordCommand failed: ${error.message}`, 'fix the command so it prints the passphrase', error);
        });
      }
      if (text === '') throw this.configError(`${this.describe()} is empty`, 'put a long random passphrase there (openssl rand -base64 32)');
      this.input.addSecret(text);
      return text;
    })();
    this.passphraseText.catch(() => (this.passphraseText = undefined));
    return this.passphraseText;
  }

  // The identity file's AGE-SECRET-KEY-1 lines (age-keygen's format: comments start with #).
  private async identities(purpose: string): Promise<string[]> {
    const { identityFile } = this.config;
    if (identityFile === undefined) {
      throw this.configError(`${purpose} needs the private key, and identityFile is not set`, 'add identityFile: /etc/lifeboat/age.key (the file age-keygen wrote; its public key is one of the recipients) to the repository in lifeboat.yaml');
    }
    const file = this.resolve(identityFile);
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw this.configError(`identityFile ${file} cannot be read (${error.code ?? error.message})`, 'copy the key file age-keygen wrote there, or fix identityFile');
    });
    const lines = text.split(/\r?\n/).map((line, index) => ({ key: line.trim(), line: index + 1 })).filter(({ key }) => key !== '' && !key.startsWith('#'));
    const keys = lines.map(({ key }) => key);
    // Secrets before anything can print them (the library's errors quote a key it cannot parse).
    this.input.addSecret(...keys);
    if (keys.length === 0 || keys.some((key) => !/^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(key))) {
      throw this.configError(`identityFile ${file} holds no age identity (AGE-SECRET-KEY-1... lines)`, 'point identityFile at the file age-keygen wrote');
    }
    // A key with a changed or missing character: named here (never quoted), not blamed on an archive.
    for (const { key, line } of lines) {
      await identityToRecipient(key).catch((error: unknown) => {
        throw this.configError(`identityFile ${file}: the age identity on line ${line} is damaged (its checksum or length is wrong)`, 'copy the key file age-keygen wrote there again, whole and unchanged, or fix identityFile', error);
      });
    }
    return keys;
  }

  // Throws (CONFIG_INVALID) when a backup could not have its key: the passphrase (then kept), or the
  // identity when there are no recipients.
  async available(env?: Record<string, string>): Promise<void> {
    if (this.mode === 'passphrase') await this.passphrase(env);
    else if (!this.config.recipients?.length) await this.identities('a backup');
  }

  // An Encrypter for one archive or file list.
  async encrypter(env?: Record<string, string>): Promise<Encrypter> {
    const encrypter = new Encrypter();
    if (this.mode === 'passphrase') {
      encrypter.addRecipient(new ScryptRecipient(await this.passphrase(env), SCRYPT_WORK_FACTOR));
      return encrypter;
    }
    const recipients = new Set(this.config.recipients ?? []);
    // With only identityFile, archives are sealed to its own public key.
    if (recipients.size === 0) for (const key of await this.identities('a backup')) recipients.add(await identityToRecipient(key));
    for (const recipient of recipients) {
      try {
        encrypter.addRecipient(recipient);
      } catch (error) {
        throw this.configError(`recipient ${recipient} is invalid (${(error as Error).message})`, 'copy the "public key" line age-keygen printed', error);
      }
    }
    return encrypter;
  }

  // An Encrypter for one file, its passphrase key derived now (see ScryptRecipient.prepare).
  async prepared(env?: Record<string, string>): Promise<Encrypter> {
    if (this.mode !== 'passphrase') return this.encrypter(env);
    const encrypter = new Encrypter();
    encrypter.addRecipient(await ScryptRecipient.prepare(await this.passphrase(env), SCRYPT_WORK_FACTOR));
    return encrypter;
  }

  // A Decrypter for archives of the given mode (the manifest says which).
  async decrypter(mode: AgeMode, purpose: string, env?: Record<string, string>): Promise<Decrypter> {
    if (mode !== this.mode) {
      throw this.configError(
        `${purpose}: the archive was encrypted with ${mode === 'passphrase' ? 'a passphrase' : 'age recipients'}, the repository now has ${this.mode === 'passphrase' ? 'a passphrase' : 'recipients'}`,
        mode === 'passphrase' ? 'set passwordFile (or passwordCommand) to the passphrase the archive was made with' : 'set identityFile to the key file whose public key was a recipient',
      );
    }
    const decrypter = new Decrypter();
    if (mode === 'passphrase') decrypter.addIdentity(new ScryptIdentity(await this.passphrase(env)));
    else for (const key of await this.identities(purpose)) decrypter.addIdentity(key);
    return decrypter;
  }

  // The error for an archive this key does not open, or whose bytes fail authentication.
  // `part` names what failed when it is not the archive's bytes (its file list).
  failure(error: unknown, archive: string, mode: AgeMode, part?: string): LifeboatError {
    const message = (error as Error)?.message ?? String(error);
    if (message === "no identity matched any of the file's recipients") {
      const fix = mode === 'passphrase' ? 'set passwordFile (or passwordCommand) to the passphrase the archive was made with' : 'set identityFile to the key file whose public key was a recipient when the archive was made';
      // The fix is the hint (said once, after the message).
      return new LifeboatError('PROVIDER', `${archive}: cannot be decrypted with ${this.describe(mode)}: wrong key`, { hint: fix, cause: error });
    }
    return new LifeboatError('PROVIDER', `${archive}: ${part ? `${part} is ` : ''}damaged or tampered with: age decryption failed (${message}); nothing from it was used`, {
      hint: 'restore another snapshot; `lifeboat verify` checks every archive and file list of the module',
      cause: error,
    });
  }
}

// Runs a passwordCommand with /bin/sh; resolves to its output without the final newline.
async function runPasswordCommand(command: string, env: NodeJS.ProcessEnv): Promise<string> {
  return (await shellOutput(command, env, PASSWORD_COMMAND_TIMEOUT_MS)).replace(/\r?\n$/, '');
}

// A web ReadableStream that pulls from a Node async iterable one chunk at a time (bounded memory).
function toWeb(source: AsyncIterable<Buffer>): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

// Yields a web stream's chunks as Buffers.
async function* fromWeb(stream: ReadableStream<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

// The encrypting stage of the create pipeline (a function stage for stream.pipeline); `encrypter`, when
// given, is one from AgeKeys.prepared (used once), else the stage makes its own.
export function encryptStage(keys: AgeKeys, env?: Record<string, string>, prepared?: Encrypter): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* encrypt(source) {
    const encrypter = prepared ?? (await keys.encrypter(env));
    yield* fromWeb(await encrypter.encrypt(toWeb(source)));
  };
}

// The decrypting stage of the restore and check pipelines; failures name the archive and the key source
// (and `part` when it decrypts something beside the archive: its file list).
export function decryptStage(keys: AgeKeys | undefined, mode: AgeMode, archive: string, env?: Record<string, string>, part?: string): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* decrypt(source) {
    if (!keys) throw noKeys(archive, mode);
    const decrypter = await keys.decrypter(mode, `decrypting ${archive}`, env);
    let plain: ReadableStream<Uint8Array>;
    try {
      plain = await decrypter.decrypt(toWeb(source));
    } catch (error) {
      throw keys.failure(error, archive, mode, part);
    }
    try {
      yield* fromWeb(plain);
    } catch (error) {
      if (error instanceof LifeboatError) throw error;
      if ((error as Error)?.name === 'AbortError') throw error;
      throw keys.failure(error, archive, mode, part);
    }
  };
}

// The error for an encrypted archive in a repository that has no keys configured.
export function noKeys(archive: string, mode: AgeMode): LifeboatError {
  return new LifeboatError('CONFIG_INVALID', `${archive} is encrypted (age, ${mode === 'passphrase' ? 'passphrase' : 'recipients'}) but its repository has no key`, {
    hint: mode === 'passphrase' ? 'add the passwordFile (or passwordCommand) it was made with to the repository in lifeboat.yaml' : 'add identityFile: (the age-keygen key file) to the repository in lifeboat.yaml',
  });
}

// Opens the sealed part of a lifeboat-tar/1 manifest (base64 of age(gzip(JSON))); `archive` names the
// snapshot in errors.
export async function openJson<T>(keys: AgeKeys | undefined, mode: AgeMode, sealed: string, archive: string, env?: Record<string, string>): Promise<T> {
  if (!keys) throw noKeys(archive, mode);
  const decrypter = await keys.decrypter(mode, `decrypting ${archive}`, env);
  let plain: Uint8Array;
  try {
    plain = await decrypter.decrypt(Buffer.from(sealed, 'base64'));
  } catch (error) {
    throw keys.failure(error, archive, mode, "its manifest's file list");
  }
  return JSON.parse(gunzipSync(plain, { maxOutputLength: MAX_FILES_JSON }).toString('utf8')) as T;
}
