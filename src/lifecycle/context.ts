// What one module's action carries from part to part: config, request, environment, shared state.
import type { ModuleConfig, RootConfig } from '../config/types.js';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Action, PhaseName } from '../parts/phases.js';
import type { ProviderSnapshot, SnapshotKind, StreamSource } from '../providers/types.js';

export interface ActionOptions {
  repositories?: string[];
  snapshot?: string;
  target?: string;
  dryRun: boolean;
  safetySnapshot: boolean;
  databases?: boolean;
  // false: `backup --no-retention` (60retention forgets nothing).
  retention?: boolean;
  // `backup --new-repository`: a repository the journal knew but that lists no snapshot may start anew.
  newRepository?: boolean;
}

// The JSON every part reads on stdin (README "How it works").
export interface PartRequest {
  module: string;
  action: Action;
  phase: PhaseName;
  snapshot: string | null;
  repository: string | null;
  target: string;
  dryRun: boolean;
  // Restore only (NethServer): the module's place in the repository, and its environment in the snapshot.
  path?: string | null;
  environment?: Record<string, string>;
}

export interface SnapshotRef {
  repository: string;
  id: string;
  time?: string;
  bytes?: number;
  // For snapshots retention removed.
  kind?: SnapshotKind;
}

// An upload 50snapshot left running (tar with `url` and `upload`: the local archive was complete).
export interface PendingUpload {
  repository: string;
  id: string;
  uploading: Promise<void>;
  // Sends the upload's log lines to another part's logger (95finish_uploads, which waits for it).
  logTo?: (log: Logger) => void;
}

// One repository's scratch restore in a drill: files are under dir + their absolute paths.
export interface Drill {
  repository: string;
  snapshot: ProviderSnapshot;
  dir: string;
}

// Mutable state the built-ins share within one run of one module.
export interface RunState {
  stoppedService: boolean;
  snapshots: SnapshotRef[];
  safetySnapshots: SnapshotRef[];
  // Snapshots 60retention removed.
  removed: SnapshotRef[];
  // Repositories where 60retention pruned (restic prune, borg compact: their cadence was due).
  pruned: string[];
  // The snapshot a restore brings back, resolved by the command before anything runs.
  restoreSource?: { repository: string; snapshot: ProviderSnapshot };
  bytes: number;
  failedPart?: string;
  error?: string;
  // The fix the first failure named (LifeboatError.hint), for the journal and `--json`.
  hint?: string;
  // The error code of that failure (src/errors.ts), for the journal and `--json`.
  code?: ErrorCode;
  skipped: boolean;
  // What built-ins hand each other within the run (each field: who writes it, who reads it).
  // 20dump_databases -> 50snapshot: the dumps streamed straight into the snapshot.
  dumpStreams?: StreamSource[];
  // 10restore_scratch -> 20check_manifest, 30check_databases: each repository's scratch restore.
  drills?: Drill[];
  // 10restore_module -> later restore parts: the restored files are now the snapshot's environment.
  moduleRestored?: boolean;
  // restore requests before 10restore_module: the environment read from the snapshot, once.
  snapshotEnvironment?: Record<string, string>;
  // In-place restore: the state dir's `environment` as the run found it (its bytes and a stamp of inode,
  // size, mtime and ctime; null: there was none), and what a step before 10restore_module wrote there (put
  // back after the restore; NethServer's 06copyenv).
  stateEnvBefore?: { bytes: Buffer; stamp: string } | null;
  stateEnvWritten?: Buffer;
  // A restore: the module's own parts (not built-ins) that ran before 10restore_module, phase/name.
  stepsBeforeSwap?: string[];
  // 50snapshot -> finally/95finish_uploads: uploads left running after the local archive was complete.
  pendingUploads?: PendingUpload[];
  // Warnings already logged in this run (logged once each).
  warned?: Set<string>;
}

export interface RunContext {
  root: RootConfig;
  module: ModuleConfig;
  action: Action;
  runId: string;
  options: ActionOptions;
  env: Record<string, string>;
  // Reads the environment afresh (the env files may have changed); the runner calls it before every part.
  readEnv?: () => Record<string, string>;
  envFile: string;
  log: Logger;
  signal: AbortSignal;
  state: RunState;
}

// A built-in part sees the run plus where it stands and an abort signal for its own timeout.
export interface PartContext extends RunContext {
  phase: PhaseName;
  part: string;
  request: PartRequest;
}

// A fresh state for a run.
export function newRunState(): RunState {
  return { stoppedService: false, snapshots: [], safetySnapshots: [], removed: [], pruned: [], bytes: 0, skipped: false };
}
