// What a path is, without following a final symlink and without throwing for a missing one.
import { lstatSync } from 'node:fs';

// True for a symlink (dangling or not); used where a link must not be read through.
export function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

// True for a real directory (not a symlink to one); false when the path does not exist.
export function isDirectory(file: string): boolean {
  try {
    return lstatSync(file).isDirectory();
  } catch {
    return false;
  }
}
