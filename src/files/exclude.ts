// restic-style exclude patterns for the tar provider. Supported (as restic matches them):
//   *.tmp        a name without /: matches that component at any depth (and so everything below it)
//   cache/       a trailing / is dropped, as restic does: any file or directory named cache
//   /abs/path    anchored at /: that path and everything below it
//   a/b          relative with /: those consecutive components anywhere
//   **           any number of components (also none): /var/**/x.log, **/deep/*.log
//   * ? [a-z] [!a]  within one component; \ escapes the next character
// Not supported: negation (!pattern, refused), $VAR expansion, case-insensitive matching.
import { LifeboatError } from '../errors.js';

type Part = RegExp | '**';

// Compiles exclude patterns into one predicate over absolute paths.
export function compileExcludes(patterns: string[]): (absolutePath: string) => boolean {
  const compiled = patterns.filter((p) => p.trim() !== '').map(compilePattern);
  if (compiled.length === 0) return () => false;
  return (absolutePath) => {
    const components = absolutePath.split('/').filter(Boolean);
    return compiled.some((match) => match(components));
  };
}

// One pattern as a matcher over path components: anchored ones at offset 0, the others at any offset.
function compilePattern(pattern: string): (components: string[]) => boolean {
  if (pattern.startsWith('!')) {
    throw new LifeboatError('CONFIG_INVALID', `exclude pattern "${pattern}": negated patterns are not supported by the tar provider`, { hint: 'list the paths to exclude instead' });
  }
  const anchored = pattern.startsWith('/');
  const parts: Part[] = pattern.split('/').filter((p) => p !== '' && p !== '.').map((p) => (p === '**' ? '**' : globToRegExp(p)));
  if (parts.length === 0) return () => anchored;
  return (components) => {
    const lastOffset = anchored ? 0 : components.length - 1;
    for (let offset = 0; offset <= lastOffset; offset++) {
      if (matchFrom(parts, 0, components, offset)) return true;
    }
    return false;
  };
}

// True when parts[pi..] match components starting at ci; the path may go on below the match.
function matchFrom(parts: Part[], pi: number, components: string[], ci: number): boolean {
  if (pi === parts.length) return true;
  const part = parts[pi];
  if (part === '**') {
    for (let next = ci; next <= components.length; next++) {
      if (matchFrom(parts, pi + 1, components, next)) return true;
    }
    return false;
  }
  return ci < components.length && part.test(components[ci]) && matchFrom(parts, pi + 1, components, ci + 1);
}

// Translates one glob component (*, ?, [...], \x) to an anchored RegExp.
function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (char === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i]);
    else if (char === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        source += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!') || body.startsWith('^')) body = `^${body.slice(1)}`;
      source += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 'su');
}

// Escapes a literal for a RegExp.
function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
