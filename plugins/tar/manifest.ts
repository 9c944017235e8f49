// The manifest beside every tar archive (`<id>.manifest.json`): what `list` shows and what a restore
// needs. Written last: a snapshot is listed only once its archive (and file list) are complete.
import type { ArchiveEncryption } from './age.js';
import type { ManifestEntry } from './pack.js';
import type { Compression } from './streams.js';

// Where a lifeboat-tar/2 snapshot's file list is (file-list.ts) and what it must be.
export interface FileListRecord {
  // <id>.files.ndjson.gz, .age appended when the archive is encrypted.
  name: string;
  size: number;
  sha256: string;
  entries: number;
}

export interface Manifest {
  // lifeboat-tar/2 (since 2026-11-30): the file list is its own object, read as a stream (`list`).
  // lifeboat-tar/1: the file list inside the manifest (`files`, or `sealed` when encrypted); still read.
  format: 'lifeboat-tar/1' | 'lifeboat-tar/2';
  id: string;
  archive: string;
  module: string;
  host: string;
  tags: string[];
  time: string;
  paths: string[];
  // Empty when the archive is encrypted (the file list holds them then).
  exclude: string[];
  compression: Compression;
  archiveSize: number;
  archiveSha256: string;
  // lifeboat-tar/2 only.
  list?: FileListRecord;
  // lifeboat-tar/1 only. Empty when the archive is encrypted: then `sealed` holds them (with `exclude`).
  files?: ManifestEntry[];
  // Absent for plaintext archives.
  encryption?: ArchiveEncryption;
  // lifeboat-tar/1 only: base64 of age(gzip(JSON { files, exclude, snapshot })) for encrypted archives.
  sealed?: string;
}
