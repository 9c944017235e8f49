// The provider interface: every storage engine (restic, borg, tar, scripts, JS plugins) implements it.
import type { RepositoryConfig, RootConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { DumpOutput, DumpRun } from '../engines/types.js';

export interface ProviderSnapshot {
  // The provider's full, stable id (restic/borg id, tar archive name, script snapshot name).
  id: string;
  // ISO 8601 UTC.
  time: string;
  module: string;
  // The repository's name in lifeboat.yaml.
  repository: string;
  host?: string;
  tags: string[];
  paths?: string[];
  // `backup` or `safety`: set for every snapshot a provider opened through the registry lists or
  // creates (kinds.ts decides it from the tags); providers themselves leave it out.
  kind?: SnapshotKind;
}

// A snapshot `lifeboat backup` made, or one an in-place restore took of the state it replaced.
export type SnapshotKind = 'backup' | 'safety';

export interface CreateOptions {
  module: string;
  // Absolute paths to include; the caller passes only paths that exist.
  paths: string[];
  // Exclude patterns in restic syntax.
  exclude: string[];
  host: string;
  // Always includes `module:<name>`; `lifeboat-safety` (SAFETY_TAG in kinds.ts) marks a safety snapshot.
  tags: string[];
  signal: AbortSignal;
  log: Logger;
  dryRun?: boolean;
  // The part environment (README "How it works") for providers that run scripts.
  env?: Record<string, string>;
  // Database dumps that flow into the snapshot without a copy on disk; only given to providers with
  // capabilities.streams. Each must come back from restore as a regular file at its `path`.
  streams?: StreamSource[];
  // The run this snapshot belongs to (groups a snapshot with its streamed dumps).
  runId?: string;
  // Optional: called as bytes are read (restic --json status lines, byte counts for tar and S3).
  onProgress?: (progress: ProgressInfo) => void;
  // The caller awaits CreateResult.uploading itself: a provider that keeps a local copy and uploads it
  // (tar with `url` and `upload`) may return once the local copy is complete.
  detachUpload?: boolean;
}

// A dump streamed into a snapshot (see src/engines/): bytes from a producer that may still fail.
export interface StreamSource {
  // Absolute path the bytes are stored under, inside one of the snapshot's paths (the module's state dir).
  path: string;
  // Names the database, for messages.
  label: string;
  // Starts the producer. `done` rejects when the dump failed even if `stream` ended normally: the provider
  // must not let its snapshot complete before `done` resolved, and must leave no snapshot when it rejects.
  // With `output` (the consumer's stdin, a FIFO's descriptor) a dump tool writes into it directly
  // (`direct` in the result; pump.ts's feed() handles both kinds).
  open(output?: DumpOutput): DumpRun;
}

// How far a create or restore has got, for progress bars; totals when the provider knows them.
export interface ProgressInfo {
  bytesDone: number;
  bytesTotal?: number;
  filesDone?: number;
  filesTotal?: number;
}

export interface CreateResult {
  snapshot: ProviderSnapshot;
  // Bytes added to the repository (or archive size), when the provider knows.
  bytes?: number;
  // With detachUpload: the upload still going on. The snapshot is listed only once it resolves; when it
  // rejects, nothing of the snapshot is left.
  uploading?: Promise<void>;
}

export interface RestoreOptions {
  module: string;
  snapshot: ProviderSnapshot;
  // Files land under target with their absolute paths (target + /var/lib/app/...).
  target: string;
  // Restore only these absolute paths (and everything below them); all when omitted.
  include?: string[];
  signal: AbortSignal;
  log: Logger;
  dryRun?: boolean;
  env?: Record<string, string>;
  // Optional: called as bytes are restored (restic --json status lines, byte counts for tar and S3).
  onProgress?: (progress: ProgressInfo) => void;
}

export interface CommonOptions {
  signal?: AbortSignal;
  log: Logger;
  dryRun?: boolean;
  env?: Record<string, string>;
  // Ask the repository itself, not a cache of it (`check`: the password and the repository must really open).
  fresh?: boolean;
}

// What retention decided for one module in one repository (retention.ts), oldest first in each list.
export interface ForgetResult {
  removed: ProviderSnapshot[];
  kept: ProviderSnapshot[];
}

export interface ProviderCapabilities {
  forget: boolean;
  check: boolean;
  // create() takes `streams` (database dumps without staging them on disk).
  streams?: boolean;
}

export interface Provider {
  // The provider kind (restic, borg, tar, or the plugin name).
  readonly kind: string;
  readonly capabilities: ProviderCapabilities;
  create(options: CreateOptions): Promise<CreateResult>;
  // Snapshots of one module, oldest first; a module never backed up has none (not an error).
  list(module: string, options: CommonOptions): Promise<ProviderSnapshot[]>;
  restore(options: RestoreOptions): Promise<void>;
  // After list(): why snapshot `ref` (or, without one, any snapshot) the repository holds was not listed
  // for the module, when the provider knows (a script provider: entries that name no module and that this
  // host has no record of); undefined otherwise.
  unlisted?(module: string, ref: string | undefined): { message: string; hint: string } | undefined;
  // Deletes exactly these snapshots of one module (Lifeboat chose them: retention.ts counts backups and
  // safety snapshots apart); freeing their space is prune's job where the tool needs a step for that.
  forget?(module: string, snapshots: ProviderSnapshot[], options: CommonOptions): Promise<void>;
  // Frees the space of snapshots forget deleted (restic prune, borg compact): expensive, and it locks the
  // repository exclusively, so Lifeboat calls it on the repository's prune cadence, not after every forget.
  prune?(module: string, options: CommonOptions): Promise<void>;
  // readData reads every pack; readDataSubset (restic's --read-data-subset: "5%", "1/10") only part of them.
  check?(module: string, options: CommonOptions & { readData?: boolean; readDataSubset?: string }): Promise<void>;
  // Before a restore starts: throws (exit 2) when the snapshot cannot be read with the settings as they
  // are (the tar provider: an encrypted archive and no key to open it), so nothing is touched.
  preflightRestore?(module: string, snapshot: ProviderSnapshot, options: CommonOptions): Promise<void>;
  // Before a backup runs anything (parts, dumps, a service stop): throws (exit 2) when the repository's
  // key cannot be had (the tar provider: an empty or unreadable passwordFile, a failing passwordCommand).
  preflightBackup?(options: CommonOptions): Promise<void>;
  // What an interrupted run left that is not a snapshot (the tar provider: a local archive without its
  // manifest, an unfinished multipart upload), each named where it is, for `check`.
  leftovers?(module: string, options: CommonOptions): Promise<string[]>;
  // Stored objects whose size is not what their snapshot's manifest records (the tar provider: each
  // local archive and file list, by stat), each named with both sizes, for `check`. Cheap: no data read.
  sizeProblems?(module: string, options: CommonOptions): Promise<string[]>;
  // True when the repository certainly holds snapshots of the module, seen without running the tool (a
  // local restic repository: its config and a snapshot file); false when that is not known, and the
  // caller lists. Saves the backup's check for a vanished repository a full listing (restic: a key
  // derivation) when the answer is plain.
  holdsSnapshots?(module: string, options: CommonOptions): Promise<boolean>;
  // Removes what only the provider knows is left over when retention had nothing to forget (restic: the
  // dump snapshots of a run killed before its module snapshot); its forget does the same after removing.
  sweep?(module: string, options: CommonOptions): Promise<void>;
}

// What a provider factory gets: the repository's name and settings, and where Lifeboat runs.
export interface ProviderInput {
  name: string;
  config: RepositoryConfig;
  root: RootConfig;
  // Registers secrets (passwords, repository env values) so logs mask them.
  addSecret: (...values: Array<string | undefined>) => void;
}

export type ProviderFactory = (input: ProviderInput) => Provider;


// A finding about a repository's settings that `check` reports without opening the repository.
export interface SettingsFinding {
  level: 'ok' | 'warn' | 'fail';
  subject: string;
  message: string;
}

// What a built-in provider says about itself in its own folder (plugins/<kind>/declaration.ts), read
// without loading the provider: ARCHITECTURE.md "Providers". Its config keys stay in the central schema
// (src/config/schema/lifeboat.schema.json), whose validators are compiled at build time.
export interface ProviderDeclaration {
  kind: string;
  capabilities: ProviderCapabilities;
  // Restores honour `target`, so single files (a restore request's environment files) can be restored
  // into scratch first.
  restoresIntoTarget: boolean;
  // The tools `check` looks for, given the repository's settings.
  tools(config: RepositoryConfig): Array<{ tool: string; package?: string }>;
  // Checks of the repository's settings `check` makes once per repository (key files, plaintext uploads).
  checkSettings?(name: string, config: RepositoryConfig, rootDir: string): SettingsFinding[];
}
