// Ground truth for the S3 tests: what s3rver holds in its data folder, read from disk rather than through
// the S3 API (whose ListMultipartUploads and AbortMultipartUpload test/helpers/s3-server.mjs adds itself).
// s3rver keeps a pending multipart upload as a folder `<bucket>/._S3rver_uploads/<upload id>/` holding
// `key`, and an object as the file `<bucket>/<key>._S3rver_object`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { S3_BUCKET, type S3Server } from '../helpers/s3.js';

// The pending multipart uploads under `prefix`, as s3rver's upload folders on disk say.
export function uploadsOnDisk(server: Pick<S3Server, 'dataDir'>, prefix = ''): Array<{ Key: string; UploadId: string }> {
  const dir = path.join(server.dataDir, S3_BUCKET, '._S3rver_uploads');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((id) => ({ Key: readFileSync(path.join(dir, id, 'key'), 'utf8'), UploadId: id }))
    .filter((upload) => upload.Key.startsWith(prefix));
}

// Whether s3rver stores an object under `key` (its object file on disk).
export function objectOnDisk(server: Pick<S3Server, 'dataDir'>, key: string): boolean {
  return existsSync(path.join(server.dataDir, S3_BUCKET, `${key}._S3rver_object`));
}
