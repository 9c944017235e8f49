// Running a tool: what it last said, quoted in Lifeboat's messages, is plain text (restic clears its
// status line with ESC[2K; progress overwrites with CR), never terminal control sequences.
import { describe, expect, it } from 'vitest';
import { runTool } from '../../src/process/exec.js';
import { Logger } from '../../src/log/logger.js';

describe('runTool', () => {
  it('quotes what a stopped tool last said without its terminal control sequences', async () => {
    const controller = new AbortController();
    const log = new Logger({ level: 'error' });
    const script = 'printf "\\033[2Kscanning\\r\\033[2Ksignal interrupt received\\n" >&2; echo started; exec sleep 60';
    const run = runTool('sh', ['-c', script], { env: process.env, log, signal: controller.signal, onLine: (line) => line === 'started' && controller.abort('SIGINT') });
    await expect(run).rejects.toThrow('sh -c was stopped (SIGINT); it last said: signal interrupt received');
  });

  it('quotes a failed tool the same way', async () => {
    const log = new Logger({ level: 'error' });
    await expect(runTool('sh', ['-c', 'printf "\\033[31mFatal:\\033[0m repository \\033]0;title\\007not found\\n" >&2; exit 1'], { env: process.env, log })).rejects.toThrow(/^sh -c failed \(exit 1\): Fatal: repository not found$/);
  });
});
