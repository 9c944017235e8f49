// One catalogue of known errors: a code, a message, a hint and the exit status the CLI uses.
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_MISSING'
  | 'ENV_SYNTAX'
  | 'USAGE'
  | 'UNKNOWN_MODULE'
  | 'UNKNOWN_REPOSITORY'
  | 'UNKNOWN_SNAPSHOT'
  | 'AMBIGUOUS_SNAPSHOT'
  | 'LOCKED'
  | 'UNSAFE_PERMISSIONS'
  | 'PROVIDER'
  | 'DATABASE'
  | 'RESTORE'
  | 'PART_FAILED'
  | 'MODULE_FAILED'
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
