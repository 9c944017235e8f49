// Notifications through the real CLI to a loopback HTTP server: healthchecks.io pings in order with one
// run id, the log tail on failure with secrets masked, the JSON variant, and pings that fail or hang.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

interface Received {
  method: string;
  url: string;
  body: string;
  contentType: string;
}

const SECRET = 'hunter2-very-secret';

// A loopback server that records every request; `hang` makes it never answer.
async function startServer(options: { hang?: boolean } = {}): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', body, contentType: String(req.headers['content-type'] ?? '') });
      if (options.hang) open.add(res);
      else res.end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('notifications', () => {
  let t: TestRoot;
  let server: Awaited<ReturnType<typeof startServer>>;

  const configure = (notify: Array<Record<string, unknown>>) =>
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'copy', url: path.join(t.dir, 'repo') } }, notify }));

  beforeEach(() => {
    t = makeRoot();
    for (const name of ['blog', 'wiki']) t.dataModule(name);
    t.write('modules/blog/environment', `BLOG_TOKEN=${SECRET}\n`);
  });
  afterEach(async () => {
    await server?.close();
    t.cleanup();
  });

  it('pings healthchecks start then success with one run id', async () => {
    server = await startServer();
    configure([{ webhook: `${server.url}/ping/abc` }]);
    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(server.received.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual(['POST /ping/abc/start', 'POST /ping/abc']);
    const rids = server.received.map((r) => new URL(r.url, 'http://x').searchParams.get('rid'));
    expect(rids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(rids[1]).toBe(rids[0]);
    expect(server.received[1].body).toContain('blog: ok');
    expect(server.received[1].body).toContain('wiki: ok');
  });

  it('pings /fail with the tail of the log, secrets masked, after the failure', async () => {
    server = await startServer();
    configure([{ webhook: `${server.url}/ping/abc` }]);
    t.part('pre-backup', '40leak', `#!/bin/sh\necho "about to fail with token $BLOG_TOKEN"\nexit 7\n`, 'blog');
    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode).toBe(1);
    expect(server.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/abc/start', '/ping/abc/fail']);
    const body = server.received[1].body;
    expect(body).toContain('blog: failed (pre-backup/40leak: exited with status 7)');
    expect(body).toContain('wiki: ok');
    expect(body).toContain('--- last lines of the log ---');
    expect(body).toContain('[blog/40leak] about to fail with token ***');
    expect(body).not.toContain(SECRET);
    expect(run.stderr).not.toContain(SECRET);
  });

  it('posts JSON documents to a plain webhook, filtered by module', async () => {
    server = await startServer();
    configure([{ webhook: `${server.url}/hook`, format: 'json', modules: ['wiki'] }]);
    t.part('pre-backup', '40fail', '#!/bin/sh\nexit 3\n', 'wiki');
    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode).toBe(1);
    expect(server.received.map((r) => r.url)).toEqual(['/hook', '/hook']);
    expect(server.received[0].contentType).toBe('application/json');
    const [start, end] = server.received.map((r) => JSON.parse(r.body));
    expect(start).toMatchObject({ event: 'start', action: 'backup', modules: [{ module: 'wiki' }] });
    expect(end).toMatchObject({ event: 'failure', action: 'backup', modules: [{ module: 'wiki', ok: false, failedPart: 'pre-backup/40fail' }] });
    expect(end.log.some((line: string) => line.includes('exited with status 3'))).toBe(true);
  });

  it('does not ping for dry runs, nor for actions it is not configured for', async () => {
    server = await startServer();
    configure([{ webhook: `${server.url}/ping/abc`, actions: ['verify'] }, { webhook: `${server.url}/ping/def` }]);
    expect((await lifeboat(t, ['backup', '--dry-run'])).exitCode).toBe(0);
    expect(server.received).toEqual([]);
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    expect(server.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/def/start', '/ping/def']);
  });

  it('a failed restore drill pings its failure without actions:, a passing one stays quiet, actions: [backup] silences it', async () => {
    server = await startServer();
    configure([{ webhook: `${server.url}/ping/def` }, { webhook: `${server.url}/ping/only`, actions: ['backup'] }]);
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    expect(server.received.map((r) => r.url.split('?')[0]).sort()).toEqual(['/ping/def', '/ping/def/start', '/ping/only', '/ping/only/start']);
    server.received.length = 0;
    const passed = await lifeboat(t, ['verify', 'blog']);
    expect(passed.exitCode, passed.stderr).toBe(0);
    expect(server.received).toEqual([]);
    t.part('verify', '50fail', '#!/bin/sh\necho the drill found damage >&2\nexit 1\n', 'blog');
    const failed = await lifeboat(t, ['verify', 'blog']);
    expect(failed.exitCode).toBe(1);
    expect(server.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/def/fail']);
    expect(server.received[0].body).toMatch(/^lifeboat verify FAILED on \S+: blog\nblog: failed local:\S+ \(verify\/50fail: exited with status 1\)\n/);
    expect(server.received[0].body).toContain('the drill found damage');
  });

  it('a run refused for its parts (exit 2 when named) still sends its failure ping', async () => {
    server = await startServer();
    configure([{ webhook: `${server.url}/ping/abc` }]);
    const part = t.write('modules/blog/hooks.d/pre-backup/40dump', '#!/bin/sh\nexit 0\n', 0o644);
    const run = await lifeboat(t, ['backup', 'blog']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`lifeboat: ${part}: refused: not executable; a module's own part must be: chmod +x ${part} (or empty it to mask a part)`);
    expect(server.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/abc/start', '/ping/abc/fail']);
    expect(server.received[1].body).toContain(`blog: failed (configuration: the configuration is invalid, nothing ran: `);
    expect(server.received[1].body).toContain(`${part}: refused: not executable; a module's own part must be: chmod +x ${part} (or empty it to mask a part)`);
    // A dry run reports the same refusal without pinging.
    server.received.length = 0;
    expect((await lifeboat(t, ['backup', 'blog', '--dry-run'])).exitCode).toBe(2);
    expect(server.received).toEqual([]);
  });

  it('a lifeboat.yaml refused as writable by group runs none of its commands; its plain webhook still pings', async () => {
    server = await startServer();
    const marker = path.join(t.dir, 'pwned');
    const file = configure([
      { webhook: `${server.url}/ping/abc` },
      { webhook: `${server.url}/ping/\${HOME}` },
      { command: `touch ${marker}` },
      { sendmail: { to: 'ops@example.org', command: `/bin/sh -c 'touch ${marker}'` } },
    ]);
    chmodSync(file, 0o664);
    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`${file} is not trusted: 3 notify entries with a command, sendmail or \${VAR} not used for the failure ping; only webhook and ntfy entries are`);
    expect(existsSync(marker)).toBe(false);
    expect(server.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/abc/start', '/ping/abc/fail']);
    expect(server.received[1].body).toContain('refused: writable by group (mode 0664)');
  });

  it('a run that finds the module locked by another run is skipped: no failure ping, summary names the holder', async () => {
    server = await startServer();
    configure([{ webhook: `${server.url}/ping/abc` }]);
    const gate = path.join(t.dir, 'gate');
    t.part('pre-backup', '50hold', `#!/bin/sh\ntouch ${gate}.held\nwhile [ ! -e ${gate} ]; do sleep 0.1; done\n`, 'blog');
    const first = lifeboat(t, ['backup', 'blog']);
    while (!existsSync(`${gate}.held`)) await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await lifeboat(t, ['backup', 'blog']);
    writeFileSync(gate, '');
    expect((await first).exitCode).toBe(0);
    expect(second.exitCode).toBe(3);
    expect(second.stdout).toMatch(/^summary blog: skipped: locked by pid \d+ \(lifeboat .*backup blog, started \S+\)$/m);
    expect(second.stdout).toMatch(/^backup blog: skipped: locked by pid \d+ \(lifeboat .*backup blog, started \S+\); pass --wait SECONDS to wait for it$/m);
    expect(second.stdout).not.toContain('failed');
    const urls = server.received.map((r) => r.url.split('?')[0]);
    expect(urls.filter((url) => url === '/ping/abc/fail')).toEqual([]);
    expect(urls.sort()).toEqual(['/ping/abc', '/ping/abc', '/ping/abc/start', '/ping/abc/start']);
    expect(server.received.map((r) => r.body)).toContainEqual(expect.stringMatching(/^lifeboat backup succeeded on \S+: blog\nblog: skipped \(locked\) \(module "blog" is locked by pid \d+ /));
  });

  it('treats an unreachable or silent webhook as a warning, never a failed backup', async () => {
    server = await startServer({ hang: true });
    const closed = await startServer();
    const closedUrl = closed.url;
    await closed.close();
    configure([
      { webhook: `${server.url}/ping/slow`, timeout: 1 },
      { webhook: `${closedUrl}/ping/closed`, timeout: 1 },
    ]);
    const run = await lifeboat(t, ['backup', 'blog', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).ok).toBe(true);
    expect(run.stderr).toMatch(/notification \(start\) to http:\/\/127\.0\.0\.1:\d+\/… failed: no answer within 1s \(timeout\); the run itself is not affected/);
    expect(run.stderr).toMatch(/notification \(success\) to http:\/\/127\.0\.0\.1:\d+\/… failed: ECONNREFUSED/);
    expect(run.stderr).not.toContain('/ping/');
  });

  it('rejects a notify entry with an unknown key, naming file and key', async () => {
    server = await startServer();
    configure([{ webhook: `${server.url}/x`, retries: 3 }]);
    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('lifeboat.yaml');
    expect(run.stderr).toContain('/notify/0');
  });
});
