// Names read back from a repository or a bucket (archive names, snapshot ids, module names in manifests)
// are untrusted: before one becomes part of a local path it must be a plain file name, one path segment
// with nothing that climbs out of its folder or confuses a terminal.
import { LifeboatError } from '../errors.js';
import { escapeControl } from '../log/control.js';

// Longest name a Linux file system takes (bytes, UTF-8).
const MAX_NAME_BYTES = 255;

// Why `value` is not a plain file name, or undefined when it is one.
export function plainNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `is ${value === undefined ? 'missing' : `a ${typeof value}`}, not a name`;
  if (value === '') return 'is empty';
  if (value === '.' || value === '..') return `is "${value}"`;
  if (value.includes('/')) return 'contains "/"';
  if (value.includes('\\')) return 'contains "\\"';
  // NUL, C0 controls, DEL and C1 controls (ESC sequences, newlines).
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return 'contains a control character';
  if (Buffer.byteLength(value) > MAX_NAME_BYTES) return `is longer than ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

// Throws a PROVIDER error naming the object and the field unless `value` is a plain name (with `suffix`).
export function assertPlainName(value: unknown, field: string, source: string, suffix?: string): string {
  let problem = plainNameProblem(value);
  if (!problem && suffix && !(value as string).endsWith(suffix)) problem = `does not end with ${suffix}`;
  if (problem) {
    const shown = typeof value === 'string' ? ` ${JSON.stringify(escapeControl(value.slice(0, 200)))}` : '';
    throw new LifeboatError('PROVIDER', `${escapeControl(source)}: refused: \`${field}\`${shown} ${problem}; a name read from storage must be a plain file name`, {
      hint: 'the repository or bucket holds something Lifeboat did not write; inspect and remove that object',
    });
  }
  return value as string;
}
