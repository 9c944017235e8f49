// The layer rules of ARCHITECTURE.md, checked by `npm test` (`npm run layers`): an import against the layer
// order or an import circle fails the build. Bottom to top:
//   base       src/errors.ts, src/files/, src/process/, src/log/
//   config     src/config/
//   state      src/state/ (journal, lock)
//   domain     src/parts/, src/engines/, src/services/, src/storage/, src/notify/, src/schedule/
//   providers  src/providers/, plugins/ (each plugin in its own folder; registry.ts is the one registration)
//   lifecycle  src/lifecycle/, src/report/
//   check      src/check/
//   cli        src/cli/
const BASE = '^src/(errors\\.ts|files/|process/|log/)';
const CONFIG = '^src/config/';
const STATE = '^src/state/';
const DOMAIN = '^src/(parts|engines|services|storage|notify|schedule)/';
const PROVIDERS = '^(src/providers/|plugins/)';
const LIFECYCLE = '^src/(lifecycle|report)/';
const CHECK = '^src/check/';
const CLI = '^src/cli/';
const OURS = '^(src|plugins)/';

// A layer may import its own folder and the layers below it, nothing above.
function layer(name, from, allowed) {
  return {
    name: `layer-${name}`,
    severity: 'error',
    comment: `${name} may import only ${allowed.join(', ')} (ARCHITECTURE.md, "Layers")`,
    from: { path: from },
    to: { path: OURS, pathNot: allowed.map((a) => ({ base: BASE, config: CONFIG, state: STATE, domain: DOMAIN, providers: PROVIDERS, lifecycle: LIFECYCLE, check: CHECK })[a]) },
  };
}

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'an import circle (ARCHITECTURE.md, "Layers")', from: { path: OURS }, to: { circular: true } },
    {
      name: 'one-process-runner',
      severity: 'error',
      comment: 'processes start only through src/process/runner.ts (ARCHITECTURE.md, "The process layer")',
      from: { path: OURS, pathNot: ['^src/process/'] },
      to: { path: '^(node:)?child_process$|^execa$|node_modules/execa/', dependencyTypesNot: ['type-only'] },
    },
    layer('base', BASE, ['base']),
    layer('config', CONFIG, ['base', 'config']),
    layer('state', STATE, ['base', 'config', 'state']),
    layer('domain', DOMAIN, ['base', 'config', 'state', 'domain']),
    layer('providers', PROVIDERS, ['base', 'config', 'state', 'domain', 'providers']),
    layer('lifecycle', LIFECYCLE, ['base', 'config', 'state', 'domain', 'providers', 'lifecycle']),
    layer('check', CHECK, ['base', 'config', 'state', 'domain', 'providers', 'lifecycle', 'check']),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '^(dist|node_modules|test|bench|scripts|examples)/' },
  },
};
