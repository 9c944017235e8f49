// The manifest beside every tar archive (`<id>.json`): what `list` shows and what a restore needs.
import type { ArchiveEncryption } from './age.js';
import type { ManifestEntry } from './pack.js';
import type { Compression } from './streams.js';

export interface Manifest {
  format: 'lifeboat-tar/1';
  id: string;
  archive: string;
  module: string;
  host: string;
  tags: string[];
  time: string;
  paths: string[];
  exclude: string[];
  compression: Compression;
  archiveSize: number;
  archiveSha256: string;
  // Empty when the archive is encrypted: then `sealed` holds them (with `exclude`), age-encrypted.
  files: ManifestEntry[];
  // Absent for plaintext archives.
  encryption?: ArchiveEncryption;
  // base64 of age(gzip(JSON { files, exclude })), for encrypted archives (age.ts sealJson).
  sealed?: string;
}
