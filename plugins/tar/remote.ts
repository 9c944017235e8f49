// The S3 side of the tar provider (`upload: s3://bucket/prefix`): archives stream into multipart uploads
// at <prefix>/<module>/<id>.tar.zst as they are made (nothing staged on disk), the manifest object is
// written only after the upload completed and was verified, and restore streams the archive back.
// Loaded (with the AWS SDK) only for repositories that have `upload:`.
import { PassThrough } from 'node:stream';
import type { Logger } from '../../src/log/logger.js';
import type { ProviderInput } from '../../src/providers/types.js';
import { escapeControl } from '../../src/log/control.js';
import { MAX_MANIFEST_BYTES } from '../../src/storage/limits.js';
import { assertPlainName, plainNameProblem } from '../../src/storage/plain-name.js';
import { S3Store } from '../../src/storage/s3.js';
import { PendingUploads } from '../../src/storage/s3-pending.js';
import { resolveS3Settings, type Env } from '../../src/storage/s3-settings.js';
import type { Manifest } from './manifest.js';
import { assertSomeReadable, fileListNames, MANIFEST_SUFFIX, parseManifest, type ArchiveStore } from './stores.js';
import type { ArchiveSink } from './streams.js';

// Manifests fetched at once when listing.
const LIST_CONCURRENCY = 8;

// Opens the S3 store of a tar repository; credentials come from `env` (registered as secrets).
export function createS3ArchiveStore(input: ProviderInput, env: Env): ArchiveStore {
  const { config, name } = input;
  const settings = resolveS3Settings(config.upload!, config, env, `repository "${name}" (tar upload)`, input.root.root);
  input.addSecret(settings.secretAccessKey, settings.accessKeyId, settings.sessionToken);
  const store = new S3Store(settings);
  const journal = new PendingUploads(input.root.stateDir);
  const folder = (module: string) => `${store.key(module)}/`;
  const keyOf = (module: string, name: string) => store.key(module, name);

  // An id that is not a plain name names no snapshot (ids and names from the bucket are untrusted).
  const read = async (module: string, id: string): Promise<Manifest | undefined> => {
    if (plainNameProblem(id)) return undefined;
    const key = keyOf(module, `${id}${MANIFEST_SUFFIX}`);
    const text = await store.getText(key, MAX_MANIFEST_BYTES);
    return text === undefined ? undefined : parseManifest(text, store.describe(key), { module, id });
  };

  return {
    location: store.describe(),
    describe: (module, name) => store.describe(keyOf(module, name)),
    read,
    async list(module: string, log: Logger) {
      const objects = await store.list(folder(module));
      const present = new Set(objects.map((object) => object.key));
      const ids: string[] = [];
      for (const object of objects.filter((o) => o.key.endsWith(MANIFEST_SUFFIX))) {
        const id = object.key.slice(folder(module).length, -MANIFEST_SUFFIX.length);
        const problem = plainNameProblem(id);
        if (problem) log.warn(`${escapeControl(store.describe(object.key))}: ignored: the snapshot id ${JSON.stringify(escapeControl(id))} ${problem}`);
        else ids.push(id);
      }
      const manifests: Manifest[] = [];
      const unreadable: string[] = [];
      for (let i = 0; i < ids.length; i += LIST_CONCURRENCY) {
        const batch = await Promise.all(
          ids.slice(i, i + LIST_CONCURRENCY).map((id) =>
            read(module, id).catch((error: Error) => {
              log.warn(error.message);
              unreadable.push(error.message);
              return undefined;
            }),
          ),
        );
        for (const manifest of batch) {
          if (!manifest) continue;
          if (!present.has(keyOf(module, manifest.archive))) {
            log.warn(`${store.describe(keyOf(module, `${manifest.id}${MANIFEST_SUFFIX}`))} has no archive ${manifest.archive}; not listed`);
            continue;
          }
          manifests.push(manifest);
        }
      }
      assertSomeReadable(manifests, unreadable, store.describe(folder(module)));
      return manifests;
    },
    async prepare(module: string, log: Logger) {
      await store.abortStaleUploads(folder(module), log, journal);
    },
    openSink(module: string, archive: string, options) {
      return createS3Sink(store, keyOf(module, archive), options.log, options.signal, journal);
    },
    async publish(module: string, manifest: Manifest) {
      await store.putText(keyOf(module, `${manifest.id}${MANIFEST_SUFFIX}`), JSON.stringify(manifest));
    },
    async discard(module: string, id: string, archive: string) {
      assertPlainName(id, 'id', `${store.describe(folder(module))} (forget)`);
      assertPlainName(archive, 'archive', `${store.describe(folder(module))} (forget)`);
      await store.remove(keyOf(module, `${id}${MANIFEST_SUFFIX}`));
      await store.remove(keyOf(module, archive));
      for (const list of fileListNames(id)) await store.remove(keyOf(module, list));
    },
    open(module: string, manifest: Manifest, options) {
      return store.download({ key: keyOf(module, assertPlainName(manifest.archive, 'archive', store.describe(folder(module)))), size: manifest.archiveSize, signal: options.signal, log: options.log });
    },
    openFile(module: string, name: string, size: number, options) {
      return store.download({ key: keyOf(module, assertPlainName(name, 'list', store.describe(folder(module)))), size, signal: options.signal, log: options.log });
    },
    async strays(module: string) {
      return (await store.listUploads(folder(module))).map((upload) => `${upload.key} (unfinished multipart upload ${upload.uploadId})`);
    },
  };
}

// A sink whose bytes flow straight into a multipart upload; commit() waits for the upload to complete
// and be verified; abort() stops it (the upload aborts itself) or deletes the object if it completed.
function createS3Sink(store: S3Store, key: string, log: Logger, signal: AbortSignal | undefined, journal: PendingUploads): ArchiveSink {
  const stream = new PassThrough({ highWaterMark: 1 << 20 });
  let completed = false;
  const uploading = store.upload({ key, body: stream, signal, log, contentType: 'application/x-tar' }, journal).then(() => {
    completed = true;
  });
  uploading.catch((error: Error) => {
    if (!stream.destroyed) stream.destroy(error);
  });
  return {
    stream,
    commit: () => uploading,
    async abort() {
      if (!stream.destroyed) stream.destroy();
      await uploading.catch(() => {});
      if (completed) await store.remove(key).catch((error: Error) => log.warn(`could not delete ${store.describe(key)} after the failed backup: ${error.message}`));
    },
  };
}
