// Files written under a temporary name (<name>.partial) and renamed when complete: removing one that is
// given up must wait until its write stream has closed.
import type { WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';

// Destroys the stream writing `partial`, waits until it is closed, then removes the file. A stream given
// up right at the start is still opening the file, which would appear after an immediate rm.
export async function discardPartial(stream: WriteStream, partial: string): Promise<void> {
  stream.destroy();
  if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
  await rm(partial, { force: true });
}
