// Mistakes in hook directories that would otherwise pass silently: a phase folder that is not a phase
// (hooks.d/prebackup/), a file whose name run-parts' rules ignore (45export.sh, 40x~), and a part that
// can never be executed (no #! line and not a binary, a #! interpreter that is missing, a #! line ending
// in CR).
import { accessSync, closeSync, constants, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { ACTIONS, PHASES, type Action } from '../lifecycle/phases.js';
import { planAction } from '../lifecycle/runner.js';
import { DEFAULT_NAME_RE } from '../parts/names.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { fail, warn, type Finding } from './findings.js';
import { showPath } from '../files/byte-path.js';
import { quoteArg } from '../process/exec.js';
import { SCHEDULED_PATH } from '../schedule/crontab.js';

// Every hooks.d/ of the root and of the modules, then the first bytes of every part that would run.
export function checkHooks(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const findings = checkHookTree(path.join(root.root, 'hooks.d'));
  for (const module of modules) findings.push(...checkHookTree(path.join(module.dir, 'hooks.d')));
  findings.push(...checkInterpreters(root, modules));
  findings.push(...checkMovedParts(root, modules));
  return findings;
}

// The phase folders of every hooks.d/ that are not phases (hooks.d/finaly/): nothing in them ever runs.
// `backup` warns about them once per run (check and --dry-run report every hook mistake).
export function strayPhaseFolders(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const trees = [path.join(root.root, 'hooks.d'), ...modules.map((module) => path.join(module.dir, 'hooks.d'))];
  return trees.flatMap((dir) => checkHookTree(dir)).filter((finding) => finding.message.startsWith('is not a phase'));
}

// A part left under its old name in a post-* folder whose built-in moved to finally/ (post-backup/
// 90start_service): backup takes it to finally/ and warns; check says the same before it runs.
function checkMovedParts(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const module of modules) {
    for (const action of Object.keys(ACTIONS) as Action[]) {
      for (const part of planAction({ root, module, action }).flatMap((phase) => phase.parts)) {
        if (!part.note || seen.has(part.path)) continue;
        seen.add(part.path);
        findings.push(warn(part.path, part.note));
      }
    }
  }
  return findings;
}

// One hooks.d/: its folders must be phases, and the names in them parts run-parts would run.
function checkHookTree(dir: string): Finding[] {
  const findings: Finding[] = [];
  for (const phase of entries(dir)) {
    const folder = path.join(dir, phase);
    if (!isDirectory(folder)) continue;
    if (!(PHASES as string[]).includes(phase)) {
      const guess = closestPhase(phase);
      findings.push(fail(`${showPath(folder)}/`, `is not a phase, so nothing in it ever runs${guess ? `; did you mean ${guess}? (mv ${quoteArg(showPath(folder))} ${quoteArg(showPath(path.join(dir, guess)))})` : ''}; phases: ${PHASES.join(', ')}`));
      continue;
    }
    for (const name of entries(folder)) {
      if (DEFAULT_NAME_RE.test(name) || name.startsWith('.')) continue;
      const rename = name.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_-]/g, '');
      findings.push(warn(showPath(path.join(folder, name)), `run-parts' rules ignore this name (only letters, digits, _ and - are allowed), so it never runs${rename && rename !== name ? `; rename it, e.g. to ${rename}` : ''}`));
    }
  }
  return findings;
}

// A part that runs must start with #! or be an ELF binary; otherwise exec fails with "Exec format error".
function checkInterpreters(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const module of modules) {
    for (const action of Object.keys(ACTIONS) as Action[]) {
      for (const part of planAction({ root, module, action }).flatMap((phase) => phase.parts)) {
        if (part.layer === 'builtin' || part.status !== 'run' || seen.has(part.path)) continue;
        seen.add(part.path);
        const head = firstBytes(part.path, 256);
        if (head === undefined) continue;
        if (head.subarray(0, 4).toString('latin1') === '\x7fELF') continue;
        if (head.subarray(0, 5).toString('latin1') === '\xef\xbb\xbf#!') {
          findings.push(fail(part.path, `starts with a UTF-8 byte order mark (BOM) before its #! line, so the kernel does not see the #! and cannot execute it ("Exec format error"); remove the BOM: sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`));
          continue;
        }
        if (head.subarray(0, 2).toString('latin1') !== '#!') {
          findings.push(fail(part.path, 'has no #! line and is not a binary, so it cannot be executed ("Exec format error"); add a first line such as #!/bin/sh'));
          continue;
        }
        const problem = shebangProblem(head.toString('latin1'), process.env.PATH ?? '');
        if (problem) findings.push(fail(part.path, problem));
        // Found in this shell's PATH is not enough: cron and systemd start the scheduled run with their own.
        const scheduled = problem ? undefined : shebangProblem(head.toString('latin1'), SCHEDULED_PATH);
        if (scheduled) findings.push(warn(part.path, `${scheduled.replace(/; install it or change the first line$/, '')} of a scheduled run, though this shell finds it; write its full path in the #! line or install it in one of those folders`));
      }
    }
  }
  return findings;
}

// What is wrong with a #! line the kernel would not follow: a CR before its end (a file saved with Windows
// line ends: the kernel looks for "/bin/sh\r"), or an interpreter that is not there or not executable
// (`#!/usr/bin/env NAME` looks NAME up in PATH). undefined when it is fine.
export function shebangProblem(head: string, searchPath: string): string | undefined {
  const newline = head.indexOf('\n');
  const line = head.slice(2, newline < 0 ? undefined : newline);
  if (line.includes('\r')) {
    // The kernel splits the line once: the interpreter, then everything after it as one argument.
    const [, program, rest] = /^[ \t]*(\S+?)(?:[ \t]+([^]*?))?$/.exec(line.replace(/\r$/, '')) ?? [];
    if (program && !program.includes('\r') && rest !== undefined) {
      return `its #! line ends in CR (Windows line ends), so the kernel runs ${program} with the argument "${rest.trimEnd()}\\r" and the part fails; convert the file: sed -i 's/\\r$//' FILE (or dos2unix)`;
    }
    return `its #! line ends in CR (Windows line ends), so the kernel looks for the interpreter "${line.trim().split(/\s+/)[0]}\\r" and the part fails with "No such file or directory"; convert the file: sed -i 's/\\r$//' FILE (or dos2unix)`;
  }
  const [interpreter, ...args] = line.trim().split(/[ \t]+/);
  if (!interpreter) return 'its #! line names no interpreter; make the first line e.g. #!/bin/sh';
  if (!path.isAbsolute(interpreter)) return `its #! interpreter "${interpreter}" is not an absolute path, so it is looked up from wherever the part runs; write it in full, e.g. #!/usr/bin/env ${path.basename(interpreter)}`;
  if (!isExecutable(interpreter)) return `its #! interpreter ${interpreter} does not exist or is not executable, so the part fails with "No such file or directory"; install it or change the first line (e.g. #!/bin/sh, or #!/usr/bin/env NAME)`;
  const program = path.basename(interpreter) === 'env' ? args.find((arg) => !arg.startsWith('-') && !arg.includes('=')) : undefined;
  if (program && !program.includes('/') && !searchPath.split(':').some((dir) => dir && isExecutable(path.join(dir, program)))) {
    return `its #! line runs "${program}" through env, and no executable ${program} is in PATH (${searchPath}); install it or change the first line`;
  }
  return undefined;
}

// Whether a file exists, is not a directory and has an execute bit for this process.
function isExecutable(file: string): boolean {
  try {
    if (statSync(file).isDirectory()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// The phase a misspelt folder name most likely meant (prebackup, pre_backup, Pre-Backup, post-backups).
function closestPhase(name: string): string | undefined {
  const plain = (text: string) => text.toLowerCase().replace(/[^a-z]/g, '');
  let best: { phase: string; distance: number } | undefined;
  for (const phase of PHASES) {
    const distance = editDistance(plain(name), plain(phase));
    if (!best || distance < best.distance) best = { phase, distance };
  }
  return best && best.distance <= 3 ? best.phase : undefined;
}

// Levenshtein distance, for did-you-mean suggestions.
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}

// The sorted entries of a directory; none when it is missing.
function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

// The first bytes of a file, or undefined when it cannot be read.
function firstBytes(file: string, count: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buffer = Buffer.alloc(count);
    return buffer.subarray(0, readSync(fd, buffer, 0, count, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
