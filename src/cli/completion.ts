// `lifeboat completion bash|zsh`: a completion script generated from the command definitions themselves
// (commands, their options, which options take a file). Module names and snapshot ids come from
// `lifeboat completion modules` and `lifeboat completion snapshots MODULE`. The script hands them the
// alias's text (`alias lifeboat='lifeboat --root /srv/lb'`, `alias lifeboat='LIFEBOAT_ROOT=/x lifeboat'`)
// and the line typed so far as plain text; they read the words as the shell would (quotes, backslashes,
// `~`, `--root=DIR`) without running any of it. LIFEBOAT_ROOT reaches them through the environment.
import { lstatSync } from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';
import { parse } from 'shell-quote';
import { LifeboatError } from '../errors.js';
import { listModules } from '../config/load.js';
import { resolveRoot, resolveStateDir, stateLayout } from '../config/paths.js';
import { readJournal, type JournalEndRecord } from '../state/journal.js';
import type { GlobalOptions } from './common.js';

// Options whose value is a path (completed as files); other value options complete nothing.
const FILE_OPTIONS = ['--root', '--state-dir', '--target', '--html', '--prometheus', '--dest', '--output', '--input', '--path', '--password-file'];
// Commands whose every positional argument is a module name.
const MODULE_COMMANDS = ['backup', 'verify', 'forget'];
// How long the script waits for module names or snapshot ids before it offers nothing (a root on a
// hung network mount must not freeze the shell); LIFEBOAT_COMPLETION_SECONDS overrides it within
// 0.1 to 10 s (0, a word or an empty value cannot turn the bound off).
const HELPER_SECONDS = 3;
const MAX_SECONDS = 10;

// Prints the script for a shell, or the module names and snapshot ids for the scripts themselves.
// `program` is the CLI's own command tree (main.ts hands it over), so the script lists what exists.
export async function completionCommand([shell, module]: unknown[], options: GlobalOptions, program: Command): Promise<number> {
  if (shell === 'modules' || shell === 'snapshots') {
    try {
      const typed = { ...options, ...typedPaths(process.env.LIFEBOAT_COMPLETE_ALIAS ?? '', process.env.LIFEBOAT_COMPLETE_LINE ?? '') };
      // Only names and file types are looked at: a FIFO or a hung file where a file should be never blocks.
      const words = shell === 'modules' ? listModules(resolveRoot(typed), []) : snapshotIds(resolveStateDir(typed), String(module ?? ''));
      if (words.length) process.stdout.write(words.join('\n') + '\n');
    } catch {
      // no root or state yet: nothing to complete
    }
    return 0;
  }
  if (shell !== 'bash' && shell !== 'zsh') throw new LifeboatError('USAGE', `completion: unknown shell ${JSON.stringify(shell)}; use bash or zsh`);
  const script = bashScript(program);
  process.stdout.write(shell === 'bash' ? script : zshScript(script));
  return 0;
}

// Snapshot ids of a module from Lifeboat's own journal, never from the repository (which may be slow or
// offline): those its successful runs made or used, newest first, then the safety snapshots in-place
// restores took (the id that undoes a bad restore), newest first, then \`latest\`; less those its
// retention removed. A snapshot \`forget\` removed may still be offered. A journal that is not a regular
// file (a FIFO) is not read.
export function snapshotIds(stateDir: string, module: string): string[] {
  const journal = stateLayout(stateDir).journal;
  if (!lstatSync(journal, { throwIfNoEntry: false })?.isFile()) return [];
  const ends = readJournal(stateDir).filter((record): record is JournalEndRecord => record.type === 'end' && record.module === module);
  const removed = new Set(ends.flatMap((record) => (record.removed ?? []).map((s) => s.id)));
  const used = ends.filter((record) => record.result === 'success').flatMap((record) => record.snapshots.map((s) => s.id));
  const safety = ends.flatMap((record) => (record.safety ?? []).map((s) => s.id));
  const ids = [...new Set([...used.reverse(), ...safety.reverse()])].filter((id) => !removed.has(id) && id !== 'dry-run');
  return ids.length ? [...ids, 'latest'] : [];
}

// --root and --state-dir as the shell would pass them: from the alias's text (its VAR=value prefixes
// too) and then the words typed so far (the later one wins), dequoted, \`~\` expanded, \`--root=DIR\` taken.
// Nothing is run: \`$(...)\` and backquotes stay text.
export function typedPaths(alias: string, line: string): { root?: string; stateDir?: string } {
  const found: { root?: string; stateDir?: string } = {};
  const variable = (name: string) => process.env[name] ?? '';
  const words = (text: string) => parse(text, variable).map((word) => (typeof word === 'string' ? word : ''));
  const aliasWords = words(alias);
  // the alias's leading assignments: LIFEBOAT_ROOT=/x lifeboat
  while (aliasWords.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(aliasWords[0])) {
    const [name, ...value] = aliasWords.shift()!.split('=');
    if (name === 'LIFEBOAT_ROOT') found.root = tilde(value.join('='));
    if (name === 'LIFEBOAT_STATE_DIR') found.stateDir = tilde(value.join('='));
  }
  const args = [...aliasWords.slice(1), ...words(line).slice(1)];
  for (let i = 0; i < args.length; i++) {
    const match = /^--(root|state-dir)(?:=(.*))?$/s.exec(args[i]);
    if (!match) continue;
    const value = match[2] ?? args[++i];
    if (value === undefined) continue;
    if (match[1] === 'root') found.root = tilde(value);
    else found.stateDir = tilde(value);
  }
  return found;
}

// ~ and ~/x as the shell expands them (~user is left as written).
function tilde(word: string): string {
  return word === '~' || word.startsWith('~/') ? os.homedir() + word.slice(1) : word;
}

// The bash function: subcommand first, then its options, option values, module names, snapshot ids.
function bashScript(program: Command): string {
  const globals = [...new Set(optionNames(program).concat(['--help']))];
  // Not the hidden ones (internal-dump-redis, which Lifeboat runs itself): those the help shows.
  const visible = program.createHelp().visibleCommands(program).filter((command) => command.name() !== 'help');
  const commands = visible.map((command) => command.name());
  const valueOptions = [...new Set(visible.flatMap((command) => command.options.filter((o) => o.required || o.optional).map((o) => o.long!)).concat(['--root', '--state-dir']))];
  const cases = visible.map((command) => `    ${command.name()}) opts="${[...optionNames(command), '--help'].join(' ')}" ;;`).join('\n');
  return `# bash completion for lifeboat; generated by \`lifeboat completion bash\`.
# Load it with: eval "$(lifeboat completion bash)"   (or save it in /etc/bash_completion.d/lifeboat)
_lifeboat() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" i opts="" word expansion="" words="" program="" line="" seconds="\${LIFEBOAT_COMPLETION_SECONDS:-${HELPER_SECONDS}}"
  local -a args=() bound=()
  # The command as the shell runs it: an alias brings its own words (its --root, a LIFEBOAT_ROOT=
  # prefix). The helper reads them as text; here only the program is taken (never eval'd).
  if [[ -n "\${ZSH_VERSION-}" ]]; then expansion="\${aliases[\${COMP_WORDS[0]}]-}"; else expansion="\${BASH_ALIASES[\${COMP_WORDS[0]}]-}"; fi
  program="\${COMP_WORDS[0]}"
  if [[ -n "$expansion" ]]; then
    # the first word that is not a VAR=value assignment, cut at blanks (bash and zsh alike)
    line="$expansion"
    while :; do
      line="\${line#"\${line%%[![:space:]]*}"}"
      word="\${line%%[[:space:]]*}"
      if [[ "$word" == *=* && "$word" != [-/.~\\"\\']* ]]; then line="\${line#"$word"}"; else break; fi
    done
    [[ -n "$word" ]] && program="$word"
  fi
  case "$program" in \\"*\\"|\\'*\\') program="\${program:1:\${#program}-2}" ;; esac
  [[ "$program" == "~/"* ]] && program="$HOME/\${program#\\~/}"
  # The line so far (bash and bashcompinit set COMP_LINE); the words joined otherwise.
  if [[ -n "\${COMP_LINE-}" ]]; then line="\${COMP_LINE:0:\${COMP_POINT:-\${#COMP_LINE}}}"; else line="\${COMP_WORDS[*]:0:COMP_CWORD}"; fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      ${valueOptions.join('|')}|--root=*|--state-dir=*)
        # bash splits --root=DIR into --root, =, DIR
        [[ "$word" != *=* ]] && ((i++)) && [[ "\${COMP_WORDS[i]-}" == "=" ]] && ((i++)) ;;
      -*) ;;
      *) if [[ -z "$cmd" ]]; then cmd="$word"; else args+=("$word"); fi ;;
    esac
  done
  [[ "$prev" == "=" && COMP_CWORD -ge 2 ]] && prev="\${COMP_WORDS[COMP_CWORD-2]}"
  case "$prev" in
    ${FILE_OPTIONS.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${valueOptions.filter((o) => !FILE_OPTIONS.includes(o)).join('|')}) COMPREPLY=(); return ;;
  esac
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${commands.join(' ')} ${globals.join(' ')}" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts ${globals.join(' ')}" -- "$cur"))
    return
  fi
  # Module names and snapshot ids: Lifeboat's own files only, and never longer than ${HELPER_SECONDS} s
  # (LIFEBOAT_COMPLETION_SECONDS changes it within 0.1 to ${MAX_SECONDS} s). --foreground keeps the helper in
  # the terminal's process group, so Ctrl-C stops it.
  [[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]] || seconds=${HELPER_SECONDS}
  [[ "$seconds" =~ ^0*([.]0[0-9]*)?$ ]] && seconds=0.1
  (( 10#\${seconds%%.*} >= ${MAX_SECONDS} )) && seconds=${MAX_SECONDS}
  command -v timeout >/dev/null 2>&1 && bound=(timeout --foreground -k 1 "$seconds")
  case "$cmd:\${#args[@]}" in
    ${MODULE_COMMANDS.map((c) => `${c}:*`).join('|')}|restore:0|snapshots:0|plan:0|service:1) words="$(LIFEBOAT_COMPLETE_ALIAS="$expansion" LIFEBOAT_COMPLETE_LINE="$line" "\${bound[@]}" "$program" completion modules </dev/null 2>/dev/null)" ;;
    restore:1) words="$(LIFEBOAT_COMPLETE_ALIAS="$expansion" LIFEBOAT_COMPLETE_LINE="$line" "\${bound[@]}" "$program" completion snapshots "\${args[0]}" </dev/null 2>/dev/null)" ;;
    plan:1) words="backup restore verify" ;;
    service:0) words="stop start is-active" ;;
    completion:0) words="bash zsh" ;;
    schedule:*|status:*|check:*|init:*|report:*|restore:*|snapshots:*|plan:*|service:*|completion:*) COMPREPLY=(); return ;;
    *) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _lifeboat lifeboat
`;
}

// zsh runs the same function through bashcompinit.
function zshScript(bash: string): string {
  return `#compdef lifeboat
# zsh completion for lifeboat; generated by \`lifeboat completion zsh\`.
# Load it with: eval "$(lifeboat completion zsh)" in ~/.zshrc, after compinit.
autoload -U +X compinit && { (( $+functions[compdef] )) || compinit; }
autoload -U +X bashcompinit && bashcompinit
${bash.split('\n').filter((line) => !line.startsWith('# ')).join('\n')}`;
}

// The long names of a command's options (and short ones, for -v/-q).
function optionNames(command: Command): string[] {
  return command.options.flatMap((option) => [option.long, option.short].filter((name): name is string => Boolean(name)));
}
