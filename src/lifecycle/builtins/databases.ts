// Built-ins 20dump_databases and 30restore_databases. The database engines are not built yet: a module
// that declares databases fails loudly instead of producing a backup without them.
import type { PartContext } from '../context.js';

// Dumps every database of the module (none declared: nothing to do).
export async function dumpDatabases(ctx: PartContext): Promise<void> {
  if (ctx.module.databases.length === 0) return;
  throw new Error(`module declares ${ctx.module.databases.length} database(s) but no database engine is available yet; mask 20dump_databases and dump them in a part of your own`);
}

// Loads every database from its dump (none declared: nothing to do).
export async function restoreDatabases(ctx: PartContext): Promise<void> {
  if (ctx.module.databases.length === 0) return;
  throw new Error(`module declares ${ctx.module.databases.length} database(s) but no database engine is available yet; mask 30restore_databases and load them in a part of your own`);
}
