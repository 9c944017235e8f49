// The outermost paths of a list: a path inside another path of the list is dropped, so a nested folder
// is neither archived nor restored twice.
import path from 'node:path';

export function outermostPaths(paths: string[]): string[] {
  const unique = [...new Set(paths.map((p) => path.resolve(p)))].sort();
  return unique.filter((p) => !unique.some((other) => other !== p && (other === '/' || p.startsWith(`${other}/`))));
}
