// `schedule --dest` without --install is a usage error, not silently ignored (review finding 8 of issue 14).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

let t: TestRoot;
beforeEach(() => {
  t = makeRoot();
  t.dataModule('blog', { schedule: '15 2 * * *' }, null);
});
afterEach(() => t.cleanup());

describe('schedule --dest without --install (review finding 8)', () => {
  for (const kind of ['--cron', '--systemd']) {
    it(`${kind} --dest DIR: exit 2 saying --dest needs --install; nothing printed or written`, async () => {
      const dir = path.join(t.dir, 'units');
      const run = await lifeboat(t, ['schedule', kind, '--dest', dir]);
      expect(run.exitCode).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(`lifeboat: --dest ${dir} only says where --install writes; add --install (or leave --dest out to print the ${kind === '--cron' ? 'crontab lines' : 'units'})\n`.trimEnd());
      expect(existsSync(dir)).toBe(false);
    });
  }
});
