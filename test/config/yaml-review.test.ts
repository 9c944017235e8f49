// YAML syntax errors found by the fresh-eyes review of issue 14 (finding 7): a missing space after a
// colon inside a flow mapping is named as such, and an unclosed quote is shown on the line that opened it.
import { afterEach, describe, expect, it } from 'vitest';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

let t: TestRoot | undefined;
afterEach(() => {
  t?.cleanup();
  t = undefined;
});

// The whole stderr of a backup refused for one file's syntax (exit 2, nothing on stdout).
async function syntaxError(file: string, text: string): Promise<string> {
  t = makeRoot();
  t.module('web', { folders: ['/srv'] });
  t.write(file, text);
  const result = await lifeboat(t, ['backup', 'web']);
  expect(result.exitCode, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  return result.stderr.trimEnd();
}

describe('YAML syntax errors (review finding 7)', () => {
  it('a missing space after a colon in a flow mapping', async () => {
    expect(await syntaxError('modules/web/module.yaml', 'folders: [/srv]\nretention: { keepLast:7 }\n')).toBe(
      [
        'lifeboat: modules/web/module.yaml:2:14: invalid YAML: the key "keepLast:7" holds a colon',
        '  2 | retention: { keepLast:7 }',
        '    |              ^',
        '  likely cause: a missing space after a colon (write `keepLast: 7`)',
      ].join('\n'),
    );
  });

  it('an unclosed quote: the caret is at the quote that opened it', async () => {
    expect(await syntaxError('modules/web/module.yaml', 'folders: [/srv]\nservice: { systemd: "web.service }\nenabled: true\n')).toBe(
      [
        'lifeboat: modules/web/module.yaml:2:21: invalid YAML: Missing closing "quote',
        '  2 | service: { systemd: "web.service }',
        '    |                     ^',
        '  likely cause: a [, { or quote that is opened but not closed (close it)',
      ].join('\n'),
    );
    expect(await syntaxError('lifeboat.yaml', "repositories:\n  vault:\n    provider: 'tar\n    url: /tmp/x\n")).toBe(
      [
        "lifeboat: lifeboat.yaml:3:15: invalid YAML: Missing closing 'quote",
        "  3 |     provider: 'tar",
        '    |               ^',
        '  likely cause: a [, { or quote that is opened but not closed (close it)',
      ].join('\n'),
    );
  });
});
