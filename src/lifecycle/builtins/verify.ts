// Built-ins of the verify action (the restore drill). Not built yet: verify fails rather than pass untested.
import type { PartContext } from '../context.js';

const NOT_YET = 'the restore drill (verify) is not available yet';

// Restores the latest snapshot into a scratch directory.
export async function restoreScratch(_ctx: PartContext): Promise<void> {
  throw new Error(NOT_YET);
}

// Compares the scratch restore with the manifest written at backup time.
export async function checkManifest(_ctx: PartContext): Promise<void> {
  throw new Error(NOT_YET);
}

// Loads each dump into a scratch database.
export async function checkDatabases(_ctx: PartContext): Promise<void> {
  throw new Error(NOT_YET);
}
