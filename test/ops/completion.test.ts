// Shell completion: the bash script completes commands, options, the root's module names and a module's
// snapshot ids (running the real function in bash); the root may come from the line, an alias or
// LIFEBOAT_ROOT; a hung helper is cut off. In a pseudo-terminal (`script`), a real TAB in interactive
// bash and zsh (through bashcompinit) completes on an alias that carries --root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from './tools.js';

let t: TestRoot;
let script: string;
let bin: string;
let blogIds: string[];
// The shortest prefix that names each of blog's snapshots alone (the copy provider's ids share a long start).
let prefixLength: number;

beforeAll(async () => {
  t = makeRoot();
  for (const name of ['blog', 'wiki']) t.dataModule(name, {}, { name: 'a.txt', content: name });
  const run = await lifeboat(t, ['completion', 'bash']);
  expect(run.exitCode, run.stderr).toBe(0);
  script = path.join(t.dir, 'lifeboat.bash');
  writeFileSync(script, run.stdout);
  // the function runs COMP_WORDS[0] (or the alias) for module names: a wrapper named like the real command
  bin = path.join(t.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'lifeboat'), `#!/bin/sh\nexec node ${BIN} "$@"\n`, { mode: 0o755 });
  // two backups of blog: their ids are what `restore blog <TAB>` offers
  for (let i = 0; i < 2; i++) expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
  const listed = await lifeboat(t, ['snapshots', 'blog', '--json']);
  blogIds = (JSON.parse(listed.stdout) as Array<{ id: string }>).map((s) => s.id);
  expect(blogIds).toHaveLength(2);
  prefixLength = [...blogIds[0]].findIndex((c, i) => c !== blogIds[1][i]) + 1;
});
afterAll(() => t.cleanup());

const PATH = () => `${bin}:${process.env.PATH}`;
// The helper's bound, raised from 3 s: a loaded test machine may take longer to start node.
const SECONDS = '60';

// Completes the last word of `line` the way bash would, returning the candidates. `setup` runs first
// (an alias, an export); the function is the one `complete -p lifeboat` names, in an interactive bash.
// `words` are COMP_WORDS as bash splits the line (quotes kept, --root=X as --root, =, X); COMP_LINE is the line.
async function complete(line: string, setup = '', env: Record<string, string> = {}, words = line.split(' ')): Promise<string[]> {
  const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
  const program = [
    `source ${script}`,
    setup,
    `fn=$(complete -p lifeboat | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')`,
    `COMP_WORDS=(${words.map(quote).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); COMP_LINE=${quote(line)}; COMP_POINT=${line.length}`,
    `"$fn"; printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n');
  const result = await execa('bash', ['--norc', '--noprofile', '-i', '-c', program], { env: { PATH: PATH(), HOME: t.dir, LIFEBOAT_COMPLETION_SECONDS: SECONDS, ...env }, extendEnv: false });
  return result.stdout.split('\n').filter(Boolean);
}

describe('completion', () => {
  it('completes commands, their options and option values', async () => {
    expect(await complete('lifeboat ba')).toEqual(['backup']);
    expect(await complete('lifeboat s')).toEqual(expect.arrayContaining(['snapshots', 'service', 'status', 'schedule']));
    expect(await complete('lifeboat status --p')).toEqual(['--prometheus']);
    expect(await complete('lifeboat schedule --')).toEqual(expect.arrayContaining(['--cron', '--systemd', '--install', '--root']));
    expect(await complete('lifeboat completion ')).toEqual(['bash', 'zsh']);
    expect(await complete('lifeboat backup --repo ')).toEqual([]);
  });

  it('completes module names from the root given on the line', async () => {
    expect(await complete(`lifeboat --root ${t.root} backup `)).toEqual(['blog', 'wiki']);
    expect(await complete(`lifeboat --root ${t.root} verify --json w`)).toEqual(['wiki']);
    expect(await complete(`lifeboat --root ${t.root} service `)).toEqual(['stop', 'start', 'is-active']);
    expect(await complete(`lifeboat --root ${t.root} service stop `)).toEqual(['blog', 'wiki']);
    expect(await complete(`lifeboat --root ${t.root} plan blog `)).toEqual(['backup', 'restore', 'verify']);
    expect(await complete(`lifeboat --root ${path.join(t.dir, 'nowhere')} backup `)).toEqual([]);
  });

  it('takes the root from an alias, or from LIFEBOAT_ROOT', async () => {
    const alias = `alias lifeboat='lifeboat --root ${t.root} --state-dir ${t.stateDir}'`;
    expect(await complete('lifeboat backup ', alias)).toEqual(['blog', 'wiki']);
    expect(await complete('lifeboat restore w', alias)).toEqual(['wiki']);
    expect(await complete('lifeboat backup ', '', { LIFEBOAT_ROOT: t.root })).toEqual(['blog', 'wiki']);
    // an alias to the launcher by its path, as the README's tour writes it (lifeboat itself not on PATH)
    expect(await complete('lifeboat backup b', `alias lifeboat='${BIN} --root ${t.root}'`, { PATH: process.env.PATH ?? '' })).toEqual(['blog']);
  });

  it("completes a module's snapshot ids from Lifeboat's journal, newest first, then latest", async () => {
    const alias = `alias lifeboat='lifeboat --root ${t.root} --state-dir ${t.stateDir}'`;
    expect(await complete('lifeboat restore blog ', alias)).toEqual([...blogIds].reverse().concat('latest'));
    expect(await complete(`lifeboat restore --repo local blog ${blogIds[0].slice(0, prefixLength)}`, alias)).toEqual([blogIds[0]]);
    expect(await complete('lifeboat restore wiki ', alias)).toEqual([]);
    expect(await complete(`lifeboat restore blog ${blogIds[0]} `, alias)).toEqual([]);
  });

  it('gives up on a helper that hangs instead of freezing the shell (after 3 s by default)', async () => {
    const slow = path.join(bin, 'slow-lifeboat');
    writeFileSync(slow, '#!/bin/sh\nexec sleep 120\n', { mode: 0o755 });
    const started = Date.now();
    expect(await complete('lifeboat backup ', `alias lifeboat='${slow}'`, { LIFEBOAT_COMPLETION_SECONDS: '' })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('reads a quoted, backslashed, ~ or --root= root, and an alias with a quoted root or a LIFEBOAT_ROOT= prefix', async () => {
    const spaced = path.join(t.dir, 'with space');
    if (!existsSync(spaced)) symlinkSync(t.root, spaced);
    expect(await complete(`lifeboat --root "${spaced}" backup `, '', {}, ['lifeboat', '--root', `"${spaced}"`, 'backup', ''])).toEqual(['blog', 'wiki']);
    const escaped = spaced.replace(/ /g, '\\ ');
    expect(await complete(`lifeboat --root ${escaped} backup `, '', {}, ['lifeboat', '--root', escaped, 'backup', ''])).toEqual(['blog', 'wiki']);
    expect(await complete('lifeboat --root ~/root backup ')).toEqual(['blog', 'wiki']);
    expect(await complete(`lifeboat --root=${t.root} backup `, '', {}, ['lifeboat', '--root', '=', t.root, 'backup', ''])).toEqual(['blog', 'wiki']);
    expect(await complete('lifeboat backup ', `alias lifeboat='lifeboat --root "${spaced}"'`)).toEqual(['blog', 'wiki']);
    expect(await complete('lifeboat backup w', `alias lifeboat='LIFEBOAT_ROOT=${t.root} lifeboat'`)).toEqual(['wiki']);
    expect(await complete(`lifeboat --root=${t.root} restore blog `, `alias lifeboat='LIFEBOAT_STATE_DIR="${t.stateDir}" lifeboat'`, {}, ['lifeboat', '--root', '=', t.root, 'restore', 'blog', ''])).toEqual([...blogIds].reverse().concat('latest'));
  });

  it('never runs the text of an alias or of the line', async () => {
    const marker = path.join(t.dir, 'ran');
    expect(await complete('lifeboat backup ', `alias lifeboat='lifeboat --root $(touch ${marker})${t.root}'`)).toEqual([]);
    expect(await complete(`lifeboat --root \`touch ${marker}\` backup `, '', {}, ['lifeboat', '--root', `\`touch ${marker}\``, 'backup', ''])).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  });

  it('keeps the bound within 0.1 to 10 s: 0 or a word does not mean forever', async () => {
    const slow = path.join(bin, 'slower-lifeboat');
    writeFileSync(slow, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
    for (const seconds of ['0', 'soon', '99999']) {
      expect(await complete('lifeboat backup ', `alias lifeboat='${slow}'`, { LIFEBOAT_COMPLETION_SECONDS: seconds })).toEqual([]);
    }
  }, 120_000);

  it('offers the safety snapshot of an in-place restore after the backups', async () => {
    const restored = await lifeboat(t, ['restore', 'blog', 'latest']);
    expect(restored.exitCode, restored.stderr).toBe(0);
    const listed = JSON.parse((await lifeboat(t, ['snapshots', 'blog', '--json'])).stdout) as Array<{ id: string; kind: string }>;
    const safety = listed.filter((s) => s.kind === 'safety').map((s) => s.id);
    expect(safety).toHaveLength(1);
    const alias = `alias lifeboat='lifeboat --root ${t.root} --state-dir ${t.stateDir}'`;
    expect(await complete('lifeboat restore blog ', alias)).toEqual([...blogIds].reverse().concat(safety[0], 'latest'));
  });

  it('the helper does not block on a FIFO where the journal should be', async () => {
    const state = path.join(t.dir, 'fifo-state');
    mkdirSync(state);
    await execa('mkfifo', [path.join(state, 'journal.jsonl')]);
    const run = await execa('node', [BIN, 'completion', 'snapshots', 'blog', '--root', t.root, '--state-dir', state], { timeout: 60_000, reject: false });
    expect(run.timedOut).toBe(false);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe('');
  });

  it('refuses an unknown shell', async () => {
    const run = await lifeboat(t, ['completion', 'fish']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('use bash or zsh');
  });
});

// An interactive shell in a pseudo-terminal (`script`); everything it echoes is collected.
class Terminal {
  private child: ChildProcess;
  output = '';
  constructor(shell: string) {
    this.child = spawn(requireTool('script'), ['-q', '-f', '-e', '-c', shell, '/dev/null'], {
      env: { PATH: PATH(), HOME: t.dir, TERM: 'xterm', EDITOR: '', VISUAL: '', PS1: '$ ', PROMPT: '$ ', LIFEBOAT_COMPLETION_SECONDS: SECONDS },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
  }
  type(text: string): void {
    this.child.stdin!.write(text);
  }
  // Waits until the output matches (the shell answered), or fails after a generous while.
  async waitFor(pattern: RegExp, from = 0, timeout = 90_000): Promise<RegExpExecArray> {
    for (let waited = 0; waited < timeout; waited += 100) {
      const found = pattern.exec(this.output.slice(from));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no ${pattern} in the terminal's output:\n${this.output.slice(-2000)}`);
  }
  close(): void {
    this.child.stdin!.end('exit\n');
    this.child.kill();
  }
}

// Types `line`, presses TAB, then turns the line into `echo` (Ctrl-A) so the shell prints what the
// completion made of it; returns that. (The typed markers hold "" so only the shell's output matches.)
async function pressTab(terminal: Terminal, line: string, expected: string, marker: number): Promise<string> {
  const from = terminal.output.length;
  terminal.type(`${line}\t`);
  // the completion is done when the shell drew the completed end; a wrong one fails below, not here
  await terminal.waitFor(new RegExp(expected.slice(-6).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), from, 20_000).catch(() => undefined);
  terminal.type(`\x01echo D""ONE${marker}: \r`);
  return (await terminal.waitFor(new RegExp(`DONE${marker}: ([^\\r\\n]*)`), from))[1].trimEnd();
}

describe('completion with a real TAB', () => {
  it('bash: Ctrl-C stops a helper that hangs', async () => {
    const stuck = path.join(bin, 'stuck-lifeboat');
    const signal = path.join(t.dir, 'stuck-signal');
    writeFileSync(stuck, `#!/bin/sh\ntrap 'echo INT > ${signal}; kill $pid; exit 130' INT\ntrap 'echo TERM > ${signal}; kill $pid; exit 143' TERM\nsleep 600 >/dev/null &\npid=$!\nwait\n`, { mode: 0o755 });
    const terminal = new Terminal('bash --norc --noprofile -i');
    try {
      terminal.type(`source ${script}; alias lifeboat='${stuck}'; export LIFEBOAT_COMPLETION_SECONDS=10; echo RE""ADY\r`);
      await terminal.waitFor(/READY/);
      terminal.type('lifeboat backup \t');
      // the helper runs: wait until its sleep started (then its traps are set)
      for (let i = 0; i < 300; i++) {
        const running = await execa('pgrep', ['-f', '^sleep 600$'], { reject: false });
        if (running.exitCode === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      terminal.type('\x03');
      // the helper says which signal ended it: INT from the Ctrl-C, not TERM from the 10 s bound
      for (let i = 0; i < 600 && !existsSync(signal); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(readFileSync(signal, 'utf8')).toBe('INT\n');
    } finally {
      terminal.close();
    }
  }, 120_000);

  const setup = (file: string) => [`source ${file}`, `alias lifeboat='lifeboat --root ${t.root} --state-dir ${t.stateDir}'`, 'echo RE""ADY'].join('; ') + '\r';

  it('bash: an alias with --root completes module names and snapshot ids', async () => {
    const terminal = new Terminal('bash --norc --noprofile -i');
    try {
      terminal.type(setup(script));
      await terminal.waitFor(/READY/);
      expect(await pressTab(terminal, 'lifeboat backup bl', 'blog', 1)).toBe('lifeboat backup blog');
      expect(await pressTab(terminal, `lifeboat restore blog ${blogIds[1].slice(0, prefixLength)}`, blogIds[1], 2)).toBe(`lifeboat restore blog ${blogIds[1]}`);
    } finally {
      terminal.close();
    }
  });

  it('zsh: an alias whose root is quoted (a space in it) and one with a LIFEBOAT_ROOT= prefix', async () => {
    requireTool('zsh');
    const spaced = path.join(t.dir, 'zsh space');
    if (!existsSync(spaced)) symlinkSync(t.root, spaced);
    const terminal = new Terminal('zsh -f -i');
    try {
      const run = await lifeboat(t, ['completion', 'zsh']);
      const file = path.join(t.dir, '_lifeboat_quoted');
      writeFileSync(file, run.stdout);
      terminal.type(`autoload -U compinit && compinit -u; source ${file}; alias lifeboat='lifeboat --root "${spaced}"'; alias lbenv='LIFEBOAT_ROOT=${t.root} lifeboat'; compdef _bash_complete-lifeboat lbenv 2>/dev/null || complete -F _lifeboat lbenv; echo RE""ADY\r`);
      await terminal.waitFor(/READY/);
      expect(await pressTab(terminal, 'lifeboat backup bl', 'blog', 1)).toBe('lifeboat backup blog');
      expect(await pressTab(terminal, 'lbenv backup wi', 'wiki', 2)).toBe('lbenv backup wiki');
    } finally {
      terminal.close();
    }
  });

  it('zsh: the same through bashcompinit', async () => {
    requireTool('zsh');
    const terminal = new Terminal('zsh -f -i');
    try {
      const run = await lifeboat(t, ['completion', 'zsh']);
      const file = path.join(t.dir, '_lifeboat');
      writeFileSync(file, run.stdout);
      terminal.type(`autoload -U compinit && compinit -u; ${setup(file)}`);
      await terminal.waitFor(/READY/);
      expect(await pressTab(terminal, 'lifeboat backup bl', 'blog', 1)).toBe('lifeboat backup blog');
      expect(await pressTab(terminal, `lifeboat restore blog ${blogIds[1].slice(0, prefixLength)}`, blogIds[1], 2)).toBe(`lifeboat restore blog ${blogIds[1]}`);
    } finally {
      terminal.close();
    }
  });
});
