// One catalogue of known errors: a code, a message naming the thing it concerns, a hint (the fix) and the
// exit status the CLI uses (README "Commands": 0 done, 1 a module failed, 2 bad usage or configuration,
// 3 locked). A plain `Error` is left only for internal invariants (marked so where it is thrown) and for
// low-level reasons that a caller wraps into one of these codes.
export type ErrorCode =
  // lifeboat.yaml, module.yaml or a repository's settings are wrong (the file and key are named).
  | 'CONFIG_INVALID'
  // The config root or a file it needs is not there.
  | 'CONFIG_MISSING'
  // An environment file that is not KEY=VALUE lines.
  | 'ENV_SYNTAX'
  // A command line that cannot be run as given.
  | 'USAGE'
  | 'UNKNOWN_MODULE'
  | 'UNKNOWN_REPOSITORY'
  | 'UNKNOWN_SNAPSHOT'
  | 'AMBIGUOUS_SNAPSHOT'
  // Another run holds the module's lock (exit 3).
  | 'LOCKED'
  // A part, plugin, environment file or module script others could have written: refused before it runs.
  | 'UNSAFE_PERMISSIONS'
  // A repository or its tool (restic, borg, tar, a script provider, S3) failed.
  | 'PROVIDER'
  // A database engine or its client (dump, load, drill) failed.
  | 'DATABASE'
  // An in-place or --target restore could not be done; nothing live was changed.
  | 'RESTORE'
  // A part of an action failed: a hook file's exit status, or a built-in that failed in one or more of
  // its repositories or dumps (the hints of those failures are kept). Exit 1, like any failed module.
  | 'PART_FAILED'
  // The module's own surroundings failed: its service (systemd, container, commands).
  | 'MODULE_FAILED'
  // Lifeboat's own files in the state dir (locks, manifests) cannot be written or are damaged.
  | 'STATE'
  // A signal (Ctrl-C, SIGTERM) or a timeout stopped the work.
  | 'INTERRUPTED';

// Exit status per code: 2 for bad usage or configuration, 3 for a held lock, 1 for runtime faults.
const EXIT_CODES: Partial<Record<ErrorCode, number>> = {
  CONFIG_INVALID: 2,
  CONFIG_MISSING: 2,
  ENV_SYNTAX: 2,
  USAGE: 2,
  UNKNOWN_MODULE: 2,
  UNKNOWN_REPOSITORY: 2,
  UNKNOWN_SNAPSHOT: 2,
  AMBIGUOUS_SNAPSHOT: 2,
  UNSAFE_PERMISSIONS: 2,
  LOCKED: 3,
};

export class LifeboatError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly problems: string[];
  readonly exitCode: number;

  // Raised for every failure a person can act on; `problems` lists each one when there are several.
  constructor(code: ErrorCode, message: string, options: { hint?: string; problems?: string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LifeboatError';
    this.code = code;
    this.hint = options.hint;
    this.problems = options.problems ?? [message];
    this.exitCode = EXIT_CODES[code] ?? 1;
  }
}

// Used by the CLI to tell known errors (printed without a stack) from bugs.
export function isLifeboatError(error: unknown): error is LifeboatError {
  return error instanceof LifeboatError;
}

// Gives a readable one-line reason for any thrown value.
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

// The fix a known error carries, if any.
export function hintOf(error: unknown): string | undefined {
  return error instanceof LifeboatError ? error.hint : undefined;
}

// The code of a known error, if it is one.
export function codeOf(error: unknown): ErrorCode | undefined {
  return error instanceof LifeboatError ? error.code : undefined;
}

// The distinct hints of several failures (one per repository, per dump), joined; undefined when none has one.
export function joinHints(errors: unknown[]): string | undefined {
  const hints = [...new Set(errors.map(hintOf).filter((hint): hint is string => !!hint))];
  return hints.length ? hints.join('; ') : undefined;
}

// A built-in part that failed in some of the places it works on (repositories, dumps): PART_FAILED with
// every reason in the message and the fix of each failure that had one.
export function partFailed(message: string, errors: unknown[]): LifeboatError {
  return new LifeboatError('PART_FAILED', message, { hint: joinHints(errors), cause: errors.length === 1 ? errors[0] : undefined });
}
