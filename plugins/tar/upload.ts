// The tar provider's deferred upload (`upload:` next to a local `url`): once the local archive is
// complete, create() returns and the caller starts the service again; this uploads that archive to S3
// and only then publishes its manifest, remotely first and then locally, so the snapshot is listed only
// when both copies are complete. A failed upload removes both: no snapshot is left that looks complete.
import { pipeline } from 'node:stream/promises';
import { hintOf, LifeboatError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { Manifest } from './manifest.js';
import type { ArchiveStore } from './stores.js';
import { HashTap } from './streams.js';

export interface DeferredUpload {
  module: string;
  manifest: Manifest;
  local: ArchiveStore;
  remote: ArchiveStore;
  log: Logger;
  signal?: AbortSignal;
  // Names the repository and module in messages.
  where: string;
}

// Copies the complete local archive to the remote store, checks it is the archive the manifest
// describes (size, SHA-256), then publishes the manifest in both stores.
export async function uploadLocalArchive(job: DeferredUpload): Promise<void> {
  const { module, manifest, local, remote, log, signal } = job;
  const sink = remote.openSink(module, manifest.archive, { log, signal });
  const tap = new HashTap();
  let uploaded = false;
  try {
    await pipeline(local.open(module, manifest, { log, signal }), tap, sink.stream, { signal });
    // Its plain error is a reason: the catch below wraps every failure into the PROVIDER error naming the repository.
    if (tap.bytes !== manifest.archiveSize || tap.digest() !== manifest.archiveSha256) {
      throw new Error(`the local archive changed after it was written (${tap.bytes} bytes read, ${manifest.archiveSize} written)`);
    }
    await sink.commit();
    uploaded = true;
    await remote.publish(module, manifest);
    await local.publish(module, manifest);
  } catch (error) {
    await sink.abort();
    for (const store of uploaded ? [remote, local] : [local]) {
      await store.discard(module, manifest.id, manifest.archive).catch((e: Error) => log.warn(`${store.location}: could not remove ${manifest.archive}: ${e.message}`));
    }
    const what = signal?.aborted ? 'upload stopped' : 'upload failed';
    throw new LifeboatError(signal?.aborted ? 'INTERRUPTED' : 'PROVIDER', `${job.where}: ${what}; snapshot ${manifest.id} was removed (the local archive too): ${(error as Error).message}`, { hint: hintOf(error), cause: error });
  }
}
