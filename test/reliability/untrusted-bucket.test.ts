// The bucket is untrusted storage: a hostile S3 server on 127.0.0.1 (test/helpers/fake-s3.ts) answers
// the real CLI with a manifest naming a file outside the repository, a 200 MB and an endless manifest, a
// 300 MB and an endless listing, a repeated continuation token, a page of 10,001 keys and an endless
// object body. Each must end with a clear message, nothing outside the module touched, and (for the
// big ones) a peak RSS far below what was sent (read from /usr/bin/time -v).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeRoot, type TestRoot } from '../helpers/root.js';
import { FAKE_ENV, FAKE_SECRET_KEY, sendXml, startFakeS3, streamBody, xml, type FakeS3 } from '../helpers/fake-s3.js';

const MiB = 1024 * 1024;
// Far below the 200-300 MB sent, above Node's own ~100 MB plus one 64 MiB manifest.
const RSS_LIMIT_KB = 400 * 1024;
const BUCKET = 'bkt';
let fake: FakeS3;
const roots: TestRoot[] = [];

beforeAll(async () => {
  fake = await startFakeS3();
});
afterAll(async () => {
  await fake?.close();
  for (const t of roots) t.cleanup();
});
afterEach(() => {
  fake.craft = undefined;
  fake.objects.clear();
  fake.requests.length = 0;
});

// Runs the real CLI under /usr/bin/time -v: exit code, stdout, stderr (without time's report), peak RSS in kB.
async function run(t: TestRoot, args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string; rssKb: number }> {
  const result = await execa('/usr/bin/time', ['-v', 'node', BIN, '--root', t.root, '--state-dir', t.stateDir, ...args], { reject: false, env: FAKE_ENV, input: '' });
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  const stderr = result.stderr.split(/(?:^|\n)\s*Command being timed:/)[0];
  expect(stderr).not.toContain(FAKE_SECRET_KEY);
  expect(result.stdout).not.toContain(FAKE_SECRET_KEY);
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr, rssKb: Number(rss?.[1] ?? 0) };
}

// A root with a tar repository `offsite`: a local folder (repo/) and an upload to the fake server.
function makeTarRoot(): TestRoot {
  const t = makeRoot({ repositories: { offsite: { provider: 'tar', upload: `s3://${BUCKET}/pre`, encryption: 'none', endpoint: fake.endpoint, compression: 'none', retries: 0, retryDelay: 0.05, timeout: 5 } } });
  roots.push(t);
  const raw = readFileSync(path.join(t.root, 'lifeboat.yaml'), 'utf8');
  t.write('lifeboat.yaml', raw.replace('provider: tar', `provider: tar\n    url: ${path.join(t.dir, 'repo')}`));
  const data = path.join(t.dir, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'a.txt'), 'a\n');
  t.module('m', { folders: [data], repositories: ['offsite'], retention: { keepLast: 1 } });
  return t;
}

// A tar manifest as Lifeboat writes it, with `patch` applied.
function manifest(id: string, patch: Record<string, unknown> = {}): string {
  return JSON.stringify({ format: 'lifeboat-tar/1', id, archive: `${id}.tar`, module: 'm', host: 'h', tags: ['module:m'], time: `${id.slice(2, 6)}-01-01T00:00:00.000Z`, paths: ['/x'], exclude: [], compression: 'none', archiveSize: 0, archiveSha256: '', files: [], ...patch });
}

// Puts an object into the fake bucket.
function put(key: string, body: string | Buffer = ''): void {
  fake.objects.set(`${BUCKET}/${key}`, Buffer.from(body));
}

describe('names read from a bucket stay plain file names', () => {
  it('a manifest naming "archive": "../../victim" makes forget delete nothing outside the repository', async () => {
    const t = makeTarRoot();
    const victim = path.join(t.dir, 'victim');
    writeFileSync(victim, 'precious\n');
    // An older crafted snapshot (forget would remove it with keepLast: 1) and a newer genuine one.
    put('pre/m/m-20250101T000000000Z.manifest.json', manifest('m-20250101T000000000Z', { archive: '../../victim' }));
    put('pre/m/../../victim', 'x');
    put('pre/m/m-20260101T000000000Z.manifest.json', manifest('m-20260101T000000000Z'));
    put('pre/m/m-20260101T000000000Z.tar', '');
    const listed = await run(t, ['snapshots', 'm', '--json']);
    expect(listed.stderr).toContain('pre/m/m-20250101T000000000Z.manifest.json');
    expect(listed.stderr).toContain('refused: `archive` "../../victim" contains "/"');
    expect(JSON.parse(listed.stdout).map((s: { id: string }) => s.id)).toEqual(['m-20260101T000000000Z']);
    const forgot = await run(t, ['forget', 'm']);
    expect(forgot.exitCode, forgot.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fake.requests.filter((r) => r.startsWith('DELETE'))).toEqual([]);
  });

  it('a manifest whose id, module or archive does not match its object name is refused, naming the object and the key', async () => {
    const t = makeTarRoot();
    put('pre/m/m-20250101T000000000Z.manifest.json', manifest('m-20250101T000000000Z', { id: 'other' }));
    put('pre/m/m-20250202T000000000Z.manifest.json', manifest('m-20250202T000000000Z', { module: '..' }));
    put('pre/m/m-20250303T000000000Z.manifest.json', manifest('m-20250303T000000000Z', { archive: 'm-20250303T000000000Z.tar\u0000.sh' }));
    put('pre/m/m-20250404T000000000Z.manifest.json', manifest('m-20250404T000000000Z', { archive: 'elsewhere.tar' }));
    put('pre/m/sub/m-20250505T000000000Z.manifest.json', manifest('m-20250505T000000000Z'));
    for (const id of ['other', 'm-20250303T000000000Z.tar\u0000.sh', 'elsewhere.tar', 'm-20250505T000000000Z.tar']) put(`pre/m/${id}`, '');
    // one good snapshot beside them (with none readable the listing is an error, never "no snapshots")
    put('pre/m/m-20250606T000000000Z.manifest.json', manifest('m-20250606T000000000Z'));
    put('pre/m/m-20250606T000000000Z.tar', '');
    const listed = await run(t, ['snapshots', 'm', '--json']);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).map((s: { id: string }) => s.id)).toEqual(['m-20250606T000000000Z']);
    expect(listed.stderr).toContain('m-20250101T000000000Z.manifest.json at');
    expect(listed.stderr).toContain('refused: `id` is "other", expected "m-20250101T000000000Z"');
    expect(listed.stderr).toContain('refused: `module` ".." is ".."');
    expect(listed.stderr).toContain('refused: `archive` "m-20250303T000000000Z.tar\\\\x00.sh" contains a control character');
    expect(listed.stderr).toContain('refused: `archive` is "elsewhere.tar", expected "m-20250404T000000000Z.tar"');
    expect(listed.stderr).toContain('ignored: the snapshot id "sub/m-20250505T000000000Z" contains "/"');
    // a snapshot id given on the command line is looked up as a name, never as a path
    const restored = await run(t, ['restore', 'm', '../../../etc/passwd', '--target', path.join(t.dir, 'out')]);
    expect(restored.exitCode).toBe(2);
    expect(restored.stderr).toMatch(/not found|no snapshot/i);
    expect(existsSync(path.join(t.dir, 'out'))).toBe(false);
  });
});

describe('names read from a local tar repository stay plain file names', () => {
  it('a crafted manifest in the repository folder makes forget delete nothing outside it; a FIFO manifest does not hang', { timeout: 60_000 }, async () => {
    const t = makeRoot({ repositories: { local: { provider: 'tar', url: '' } } });
    roots.push(t);
    const repo = path.join(t.dir, 'repo');
    t.write('lifeboat.yaml', `repositories:\n  local: { provider: tar, url: ${repo}, compression: none }\n`);
    const data = path.join(t.dir, 'data');
    mkdirSync(path.join(repo, 'm'), { recursive: true });
    mkdirSync(data);
    t.module('m', { folders: [data], retention: { keepLast: 1 } });
    const victim = path.join(t.dir, 'victim');
    writeFileSync(victim, 'precious\n');
    writeFileSync(path.join(repo, 'm', 'm-20250101T000000000Z.manifest.json'), manifest('m-20250101T000000000Z', { archive: '../../victim' }));
    writeFileSync(path.join(repo, 'm', 'm-20260101T000000000Z.manifest.json'), manifest('m-20260101T000000000Z'));
    writeFileSync(path.join(repo, 'm', 'm-20260101T000000000Z.tar'), '');
    execaSync('mkfifo', [path.join(repo, 'm', 'm-20250202T000000000Z.manifest.json')]);
    const listed = await run(t, ['snapshots', 'm', '--json']);
    expect(JSON.parse(listed.stdout).map((s: { id: string }) => s.id)).toEqual(['m-20260101T000000000Z']);
    expect(listed.stderr).toContain(`${path.join(repo, 'm', 'm-20250101T000000000Z.manifest.json')}: refused: \`archive\` "../../victim" contains "/"`);
    expect(listed.stderr).toContain(`${path.join(repo, 'm', 'm-20250202T000000000Z.manifest.json')}: refused: not a regular file`);
    const forgot = await run(t, ['forget', 'm']);
    expect(forgot.exitCode, forgot.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });
});

describe('what S3 returns is bounded while reading', () => {
  it('a 200 MB manifest (announced) and an endless one (chunked) are refused without reading them into memory', async () => {
    const t = makeTarRoot();
    put('pre/m/m-20250101T000000000Z.manifest.json');
    put('pre/m/m-20250202T000000000Z.manifest.json');
    fake.craft = (request, res) => {
      if (request.method !== 'GET' || !request.key.endsWith('.manifest.json')) return false;
      const endless = request.key.includes('20250202');
      streamBody(res, { head: '{"format":"lifeboat-tar/1","files":["', unit: 'x', total: endless ? Infinity : 200 * MiB, announce: !endless });
      return true;
    };
    const listed = await run(t, ['snapshots', 'm', '--json']);
    // both refused: the listing is an error (never "no snapshots"), and each refusal is named
    expect(listed.exitCode, listed.stderr).toBe(1);
    expect(listed.stderr).toContain('none of its 2 manifest(s) can be read');
    expect(listed.stderr).toContain(`m-20250101T000000000Z.manifest.json at ${fake.endpoint}: refused: the server announced ${200 * MiB} bytes; Lifeboat accepts at most ${64 * MiB} bytes here`);
    expect(listed.stderr).toContain(`m-20250202T000000000Z.manifest.json at ${fake.endpoint}: refused: the server sent more than ${64 * MiB} bytes; Lifeboat accepts at most ${64 * MiB} bytes here`);
    expect(listed.rssKb).toBeGreaterThan(0);
    expect(listed.rssKb).toBeLessThan(RSS_LIMIT_KB);
  });

  it('a 300 MB listing and an endless one are refused at 16 MiB', async () => {
    const t = makeTarRoot();
    for (const endless of [false, true]) {
      fake.craft = (request, res) => {
        if (request.method !== 'GET' || request.key || request.query.has('uploads')) return false;
        streamBody(res, { head: `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>${BUCKET}</Name><IsTruncated>false</IsTruncated>`, unit: '<Contents><Key>k</Key><Size>1</Size></Contents>', total: endless ? Infinity : 300 * MiB, announce: !endless, contentType: 'application/xml' });
        return true;
      };
      const listed = await run(t, ['s3', 'ls', `s3://${BUCKET}/pre/`, '--endpoint', fake.endpoint]);
      expect(listed.exitCode, listed.stderr).toBe(1);
      expect(listed.stderr).toContain(`ListObjectsV2 of s3://${BUCKET}/pre at ${fake.endpoint}: refused: the server ${endless ? `sent more than ${16 * MiB}` : `announced ${300 * MiB}`} bytes; Lifeboat accepts at most ${16 * MiB} bytes here`);
      expect(listed.rssKb).toBeLessThan(RSS_LIMIT_KB);
    }
  });

  it('a repeated continuation token stops the listing with an error', async () => {
    const t = makeTarRoot();
    fake.craft = (request, res) => {
      if (request.method !== 'GET' || request.key || request.query.has('uploads')) return false;
      sendXml(res, 200, `<ListBucketResult><Name>${BUCKET}</Name><IsTruncated>true</IsTruncated><NextContinuationToken>again</NextContinuationToken><Contents><Key>pre/k</Key><Size>1</Size></Contents></ListBucketResult>`);
      return true;
    };
    const listed = await run(t, ['s3', 'ls', `s3://${BUCKET}/pre/`, '--endpoint', fake.endpoint]);
    expect(listed.exitCode).toBe(1);
    expect(listed.stderr).toContain('refused: the server repeated a continuation token (the listing would never end)');
    expect(fake.requests.filter((r) => r.includes('list-type=2'))).toHaveLength(2);
    // the same through the tar provider: snapshots fails naming the repository
    const snapshots = await run(t, ['snapshots', 'm']);
    expect(snapshots.exitCode).toBe(1);
    expect(snapshots.stderr).toContain('repeated a continuation token');
  });

  it('a page of 10,001 keys is refused', async () => {
    const t = makeTarRoot();
    fake.craft = (request, res) => {
      if (request.method !== 'GET' || request.key || request.query.has('uploads')) return false;
      const keys = Array.from({ length: 10_001 }, (_, i) => `<Contents><Key>pre/${i}</Key><Size>1</Size></Contents>`).join('');
      sendXml(res, 200, `<ListBucketResult><Name>${BUCKET}</Name><IsTruncated>false</IsTruncated>${keys}</ListBucketResult>`);
      return true;
    };
    const listed = await run(t, ['s3', 'ls', `s3://${BUCKET}/pre/`, '--endpoint', fake.endpoint]);
    expect(listed.exitCode).toBe(1);
    expect(listed.stderr).toContain('refused: one page holds 10001 keys (S3 sends at most 1,000)');
  });

  it('s3 get stops when more bytes arrive than the object has (endless body, or a larger one announced)', async () => {
    const t = makeTarRoot();
    const target = path.join(t.dir, 'got', 'object.bin');
    mkdirSync(path.dirname(target));
    for (const mode of ['endless', 'announced']) {
      fake.craft = (request, res) => {
        if (request.key !== 'obj') return false;
        if (request.method === 'HEAD') {
          res.writeHead(200, { 'content-length': MiB, etag: '"e"' });
          res.end();
        } else if (mode === 'endless') streamBody(res, { unit: 'z', total: Infinity });
        else streamBody(res, { unit: 'z', total: 10 * 1024 * MiB, announce: true });
        return true;
      };
      const got = await run(t, ['s3', 'get', `s3://${BUCKET}/obj`, target, '--endpoint', fake.endpoint]);
      expect(got.exitCode, got.stderr).toBe(1);
      const said = mode === 'endless' ? `sent more than ${MiB} bytes` : `announced ${10 * 1024 * MiB} bytes`;
      expect(got.stderr).toContain(`download of s3://${BUCKET}/obj at ${fake.endpoint}: refused: the server ${said}; the object has ${MiB}`);
      expect(readdirSync(path.dirname(target))).toEqual([]);
      expect(got.rssKb).toBeLessThan(RSS_LIMIT_KB);
    }
  });

  it('an error body with terminal control codes is shown escaped', async () => {
    const t = makeTarRoot();
    fake.craft = (request, res) => {
      if (request.key !== 'obj') return false;
      if (request.method === 'HEAD') {
        res.writeHead(200, { 'content-length': 10, etag: '"e"' });
        return void res.end(), true;
      }
      sendXml(res, 400, `<Error><Code>Weird</Code><Message>${xml('bad \u001b]0;evil\u0007\u001b[2J thing')}</Message></Error>`);
      return true;
    };
    const got = await run(t, ['s3', 'get', `s3://${BUCKET}/obj`, path.join(t.dir, 'o'), '--endpoint', fake.endpoint]);
    expect(got.exitCode).toBe(1);
    expect(got.stderr).not.toContain('\u001b');
    expect(got.stderr).not.toContain('\u0007');
    expect(got.stderr).toContain('bad \\x1b]0;evil\\x07\\x1b[2J thing');
  });
});

describe('a restored module environment cannot redirect what Lifeboat runs', () => {
  it('PATH, LD_PRELOAD and NODE_OPTIONS in environment files are ignored with one warning each; check refuses them', { timeout: 120_000 }, async () => {
    const t = makeRoot({ repositories: { local: { provider: 'restic', url: '', passwordFile: '' } } });
    roots.push(t);
    const pass = t.write('restic.pass', 'correct horse battery staple\n');
    t.write('lifeboat.yaml', `repositories:\n  local: { provider: restic, url: ${path.join(t.dir, 'restic')}, passwordFile: ${pass} }\n`);
    // What a snapshot could bring back: a folder in the backed-up data with a "restic" that leaves a mark.
    const data = path.join(t.dir, 'data');
    const evil = path.join(data, 'bin');
    const marker = path.join(t.dir, 'evil-ran');
    mkdirSync(evil, { recursive: true });
    writeFileSync(path.join(evil, 'restic'), `#!/bin/sh\ntouch ${marker}\nexit 0\n`, { mode: 0o755 });
    writeFileSync(path.join(evil, 'sh'), `#!/bin/sh\ntouch ${marker}\nexit 0\n`, { mode: 0o755 });
    writeFileSync(path.join(evil, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'node')\n`);
    t.write('environment', `BASH_ENV=${path.join(evil, 'restic')}\n`);
    t.write('modules/m/environment', `PATH=${evil}\nLD_PRELOAD=${path.join(evil, 'nothing.so')}\nNODE_OPTIONS=--require ${path.join(evil, 'evil.js')}\nKEEP=kept\n`);
    t.module('m', { folders: [data] });
    t.part('pre-backup', '10path', `#!/bin/sh\necho "part PATH=$PATH KEEP=$KEEP LD_PRELOAD=\${LD_PRELOAD:-unset} NODE_OPTIONS=\${NODE_OPTIONS:-unset}"\n`, 'm');
    const backup = await execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm'], { reject: false, input: '' });
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(existsSync(marker)).toBe(false);
    for (const [file, key] of [['modules/m/environment', 'PATH'], ['modules/m/environment', 'LD_PRELOAD'], ['modules/m/environment', 'NODE_OPTIONS'], ['environment', 'BASH_ENV']]) {
      const warning = `warn: ${file}: ${key} is ignored: an environment file may not change which programs Lifeboat and its parts run`;
      expect(backup.stderr.split(warning).length - 1, `${warning} in ${backup.stderr}`).toBe(1);
    }
    expect(backup.stderr).toContain(`part PATH=${process.env.PATH} KEEP=kept LD_PRELOAD=unset NODE_OPTIONS=unset`);
    // the snapshot was made by the real restic
    const snapshots = await execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'snapshots', 'm', '--json'], { reject: false });
    expect(JSON.parse(snapshots.stdout)).toHaveLength(1);
    const check = await execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'check', '--json'], { reject: false });
    expect(check.exitCode).toBe(1);
    const findings = (JSON.parse(check.stdout) as { findings: Array<{ level: string; subject: string; message: string }> }).findings.filter((f) => f.message.includes('is refused (ignored at run time)'));
    expect(findings.map((f) => [f.level, f.subject, f.message.split(':')[0]])).toEqual([
      ['fail', path.join(t.root, 'environment'), 'BASH_ENV is refused (ignored at run time)'],
      ['fail', path.join(t.root, 'modules/m/environment'), 'PATH is refused (ignored at run time)'],
      ['fail', path.join(t.root, 'modules/m/environment'), 'LD_PRELOAD is refused (ignored at run time)'],
      ['fail', path.join(t.root, 'modules/m/environment'), 'NODE_OPTIONS is refused (ignored at run time)'],
    ]);
    expect(findings[0].message).toContain("remove the line (tools are found with Lifeboat's own PATH)");
    expect(existsSync(marker)).toBe(false);
  });
});

describe('terminal control codes are shown escaped', () => {
  const EVIL = '\u001b]0;evil\u0007\u001b[2J';
  const SHOWN = '\\x1b]0;evil\\x07\\x1b[2J';

  it('in log lines, stored errors, --json, status, check and the HTML report', { timeout: 120_000 }, async () => {
    const t = makeRoot();
    roots.push(t);
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'a'), 'a');
    t.module('m', { folders: [data], schedule: '0 3 * * *' });
    t.part('pre-backup', '10evil', `#!/bin/sh\nprintf 'out ${EVIL.replace(/\u001b/g, '\\033').replace(/\u0007/g, '\\007')}\\n'\nprintf 'err ${EVIL.replace(/\u001b/g, '\\033').replace(/\u0007/g, '\\007')}\\n' >&2\nexit 3\n`, 'm');
    const cli = (args: string[]) => execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, ...args], { reject: false, input: '' });
    const outputs: Array<[string, string]> = [];
    const backup = await cli(['backup', 'm']);
    expect(backup.exitCode).toBe(1);
    expect(backup.stderr).toContain(`out ${SHOWN}`);
    expect(backup.stderr).toContain(`err ${SHOWN}`);
    outputs.push(['backup stdout', backup.stdout], ['backup stderr', backup.stderr]);
    const json = await cli(['backup', 'm', '--json']);
    outputs.push(['backup --json stdout', json.stdout], ['backup --json stderr', json.stderr]);
    for (const args of [['status'], ['status', '--json'], ['check'], ['check', '--json']]) {
      const result = await cli(args);
      outputs.push([`${args.join(' ')} stdout`, result.stdout], [`${args.join(' ')} stderr`, result.stderr]);
    }
    const report = path.join(t.dir, 'report.html');
    const reported = await cli(['report', '--html', report]);
    expect(reported.exitCode, reported.stderr).toBe(0);
    outputs.push(['report.html', readFileSync(report, 'utf8')], ['journal', readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8')]);
    for (const [where, text] of outputs) {
      expect(text.includes('\u001b') || text.includes('\u0007'), `raw control character in ${where}: ${JSON.stringify(text.slice(0, 500))}`).toBe(false);
    }
  });

  it('in the message about a module folder whose name holds ESC', async () => {
    const t = makeRoot();
    roots.push(t);
    mkdirSync(path.join(t.root, 'modules', `bad${EVIL}`));
    // A stray folder is skipped with a warning (backup) and listed by check, its name escaped in both.
    const backup = await execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup'], { reject: false });
    expect(backup.exitCode).toBe(0);
    expect(backup.stderr).toContain(`warn: 'modules/bad${SHOWN}/' is not a module name`);
    expect(backup.stderr).not.toContain('\u001b');
    const check = await execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'check'], { reject: false });
    expect(check.stdout).toContain(`modules/bad${SHOWN}/`);
    expect(check.stdout + check.stderr).not.toContain('\u001b');
  });

  it('in a database error text (PostgreSQL names the database it cannot find)', { timeout: 120_000 }, async () => {
    const t = makeRoot();
    roots.push(t);
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('m', { folders: [data], databases: [{ postgres: { database: `nosuch${EVIL}`, host: '127.0.0.1', user: 'postgres' } }] });
    const backup = await execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm'], { reject: false, input: '' });
    expect(backup.exitCode).toBe(1);
    expect(backup.stderr).toContain(`nosuch${SHOWN}`);
    const journal = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8');
    for (const text of [backup.stdout, backup.stderr, journal]) expect(text).not.toMatch(/[\u0007\u001b]/);
  });
});
