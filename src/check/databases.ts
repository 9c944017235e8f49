// Every database must answer with the configured credentials, and exist: a dump that fails at 3 a.m.
// because a password changed or a database was renamed is found here instead.
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { engineOf, entryOf, type EngineContext } from '../engines/index.js';
import { fail, ok, type Finding } from './findings.js';

// One finding per database entry of every module.
export async function checkDatabases(root: RootConfig, modules: ModuleConfig[], log: Logger): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const module of modules) {
    const display = path.relative(root.root, module.file);
    const ctx: EngineContext = { env: { ...process.env, ...root.rootEnv, ...module.env }, log, signal: AbortSignal.timeout(60_000), workDir: module.stateDir };
    for (const [index, entry] of module.databases.entries()) {
      const { kind, config } = entryOf(entry);
      const subject = `${display}: /databases/${index}/${kind}`;
      try {
        // Each engine's probe connects like its dump would (src/engines/<engine>.ts); it throws with the reason.
        findings.push(ok(subject, await engineOf(kind).probe(config, ctx)));
      } catch (error) {
        findings.push(fail(subject, `${log.masker.mask(describeError(error).split('\n')[0])}; fix the entry (host, user, password) or the server`));
      }
    }
  }
  return findings;
}
