// Writes hooks.d/<phase>/<part> for every built-in of the phase table (run after `npm run build`).
// The files document the default lifecycle; the parts themselves run inside lifeboat.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUILTINS, PHASES } from '../dist/src/lifecycle/phases.js';

const dir = path.resolve(new URL('..', import.meta.url).pathname, 'hooks.d');
rmSync(dir, { recursive: true, force: true });
for (const phase of PHASES) mkdirSync(path.join(dir, phase), { recursive: true });
for (const part of BUILTINS) {
  const text = `#!/bin/sh
# Built-in part of Lifeboat: ${part.phase}/${part.name}
# ${part.does}.
#
# It runs inside lifeboat (no extra process); this file marks its place in the default lifecycle.
# Replace it with an executable of the same name in <root>/hooks.d/${part.phase}/ or
# <root>/modules/<module>/hooks.d/${part.phase}/, or mask it there with an empty file or a
# symlink to /dev/null. \`lifeboat plan MODULE\` shows what will run.
echo "${part.name} is a built-in part and runs inside lifeboat" >&2
exit 0
`;
  writeFileSync(path.join(dir, part.phase, part.name), text, { mode: 0o755 });
}
for (const phase of PHASES) writeFileSync(path.join(dir, phase, '.keep'), '');
console.log(`wrote ${BUILTINS.length} built-in parts under ${dir}`);
