// Scratch databases for the restore drill (`lifeboat verify`): a dump is loaded into a database that
// exists only for the drill — a temporary database on the same PostgreSQL or MariaDB server, a throwaway
// redis-server on a private unix socket — checked, and removed again on every path, failure included.
import { randomBytes } from 'node:crypto';
import { LifeboatError, describeError } from '../errors.js';
import type { EngineContext } from './types.js';

// Every scratch database is named lifeboat_verify_<pid>_<random>, so one left behind by a killed drill is
// recognisable (and no live database can have that name by accident).
export const SCRATCH_PREFIX = 'lifeboat_verify_';

export function scratchName(): string {
  return `${SCRATCH_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
}

// Says how to turn the drill off for one entry when the server does not allow it.
export const SCRATCH_HINT = 'set `scratch: false` on this entry in module.yaml to have verify only read the dump back';

// The context for removing a scratch database: never aborted, so a drill stopped by a timeout or a
// signal still cleans up after itself.
export function cleanupContext(ctx: EngineContext): EngineContext {
  return { ...ctx, signal: undefined };
}

// Runs `drill` against a scratch created by `create`, then always `drop`; resolves with the drill's
// report and whether the scratch is gone. A drop that fails is a warning naming what was left behind
// (the drill's own result stands).
export async function withScratch(
  what: string,
  ctx: EngineContext,
  create: () => Promise<void>,
  drill: () => Promise<string>,
  drop: () => Promise<void>,
  // What to do when the scratch cannot be created (a missing privilege); `scratch: false` is always offered.
  grant?: string,
): Promise<string> {
  try {
    await create();
  } catch (error) {
    // Stopped or failed half-way, the scratch may exist all the same.
    await drop().catch(() => {});
    if (error instanceof LifeboatError && error.code === 'INTERRUPTED') throw error;
    throw new LifeboatError('DATABASE', `cannot create ${what} for the restore drill: ${describeError(error)}`, { hint: grant ? `${grant}, or ${SCRATCH_HINT}` : SCRATCH_HINT, cause: error });
  }
  // True when the scratch is gone; a failure is a warning naming what is left.
  const dropOrWarn = () =>
    drop().then(
      () => true,
      (error: unknown) => {
        ctx.log.warn(`could not remove ${what} after the restore drill; remove it by hand: ${describeError(error)}`);
        return false;
      },
    );
  let report: string;
  try {
    report = await drill();
  } catch (error) {
    await dropOrWarn();
    throw error;
  }
  return (await dropOrWarn()) ? `${report}; dropped again` : `${report}; NOT dropped (see the warning)`;
}
