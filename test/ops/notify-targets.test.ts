// ntfy, e-mail through sendmail, and a command, each against a real receiver on this machine: an HTTP
// server on 127.0.0.1 for ntfy, a sendmail SHIM script that records what it was given, a shell command.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';

const SECRET = 'notify-target-secret-42';
let t: TestRoot;
let sink: HttpSink | undefined;

// lifeboat.yaml with the copy test repository and these notify entries.
const configure = (notify: Array<Record<string, unknown>>) => t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'copy', url: path.join(t.dir, 'repo') } }, notify }));

beforeEach(() => {
  t = makeRoot();
  for (const name of ['blog', 'wiki']) t.dataModule(name);
  t.write('modules/wiki/environment', `WIKI_TOKEN=${SECRET}\n`);
});
afterEach(async () => {
  await sink?.close();
  sink = undefined;
  t.cleanup();
});

describe('ntfy', () => {
  it('POSTs the summary to the topic with Title and Priority, after the run only', async () => {
    sink = await startHttpSink();
    configure([{ ntfy: `${sink.url}/lifeboat-alerts` }]);
    expect((await lifeboat(t, ['backup'])).exitCode).toBe(0);
    expect(sink.received.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /lifeboat-alerts']);
    expect(sink.received[0].headers.title).toMatch(/^lifeboat backup succeeded on \S+: blog, wiki$/);
    expect(sink.received[0].headers.priority).toBe('low');
    expect(sink.received[0].body).toContain('blog: ok local:');

    t.part('pre-backup', '40fail', '#!/bin/sh\necho "leaking $WIKI_TOKEN"\nexit 4\n', 'wiki');
    configure([{ ntfy: `${sink.url}/lifeboat-alerts`, priority: 'urgent' }]);
    expect((await lifeboat(t, ['backup'])).exitCode).toBe(1);
    const failure = sink.received[1];
    expect(failure.headers.title).toMatch(/^lifeboat backup FAILED on \S+: blog, wiki$/);
    expect(failure.headers.priority).toBe('urgent');
    expect(failure.headers.tags).toBe('warning');
    expect(failure.body).toContain('wiki: failed (pre-backup/40fail: exited with status 4)');
    expect(failure.body).toContain('[wiki/40fail] leaking ***');
    expect(failure.body).not.toContain(SECRET);
  });
});

describe('sendmail', () => {
  it('hands a plain-text mail to the local sendmail (here a shim that records it)', async () => {
    const shim = t.write('bin/sendmail-shim', `#!/bin/sh\n# sendmail SHIM for tests: records its arguments and the message, delivers nothing.\nprintf '%s\\n' "$*" > "${t.dir}/sendmail.args"\ncat > "${t.dir}/sendmail.message"\n`, 0o755);
    configure([{ sendmail: { to: 'ops@example.org', from: 'lifeboat@example.org', command: shim } }]);
    t.part('pre-backup', '40fail', '#!/bin/sh\nexit 3\n', 'blog');
    expect((await lifeboat(t, ['backup'])).exitCode).toBe(1);
    expect(readFileSync(path.join(t.dir, 'sendmail.args'), 'utf8')).toBe('-i -t\n');
    const mail = readFileSync(path.join(t.dir, 'sendmail.message'), 'utf8');
    const [head, body] = mail.split('\n\n');
    expect(head.split('\n')).toEqual(
      expect.arrayContaining(['To: ops@example.org', 'From: lifeboat@example.org', expect.stringMatching(/^Subject: lifeboat backup FAILED on \S+: blog, wiki$/), 'Content-Type: text/plain; charset=utf-8', expect.stringMatching(/^Date: /)]),
    );
    expect(body).toContain('blog: failed (pre-backup/40fail: exited with status 3)');
    expect(mail).toContain('wiki: ok local:');
  });

  it('a sendmail that fails is a warning, never a failed backup', async () => {
    configure([{ sendmail: { to: 'ops@example.org', command: path.join(t.dir, 'no-such-sendmail') } }]);
    const run = await lifeboat(t, ['backup', 'blog']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain(`error: notification (success) by e-mail to ops@example.org failed: cannot run ${path.join(t.dir, 'no-such-sendmail')}: ENOENT; the run itself is not affected`);
  });
});

describe('command', () => {
  it('gets the summary on stdin and the event in its environment', async () => {
    const out = path.join(t.dir, 'notified');
    configure([{ command: `cat > ${out}.txt; echo "$LIFEBOAT_EVENT $LIFEBOAT_ACTION" > ${out}.event` }]);
    expect((await lifeboat(t, ['backup'])).exitCode).toBe(0);
    expect(readFileSync(`${out}.event`, 'utf8')).toBe('success backup\n');
    const summary = readFileSync(`${out}.txt`, 'utf8');
    expect(summary).toMatch(/^lifeboat backup succeeded on \S+: blog, wiki\nblog: ok local:\S+\nwiki: ok local:\S+\n$/);
  });

  it('a command that exits non-zero is a warning naming its status', async () => {
    configure([{ command: 'echo nope >&2; exit 9' }]);
    const run = await lifeboat(t, ['backup', 'blog']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain('error: notification (success) by notify command failed: /bin/sh exited with 9: nope; the run itself is not affected');
  });
});

describe('notify entries in lifeboat.yaml', () => {
  it('need exactly one target', async () => {
    configure([{ webhook: 'http://127.0.0.1:1/x', ntfy: 'http://127.0.0.1:1/y' }, { timeout: 3 }, { command: 'true', priority: 'high' }]);
    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.split('\n')).toEqual([
      'lifeboat: lifeboat.yaml: /notify/0 has webhook and ntfy; one target per entry (add another entry for the other)',
      'lifeboat: lifeboat.yaml: /notify/1 needs one of webhook, ntfy, sendmail, command',
      'lifeboat: lifeboat.yaml: /notify/2/priority only applies to ntfy',
    ]);
    expect(existsSync(path.join(t.dir, 'repo'))).toBe(false);
  });
});
