// What in-process code writes to fds 1 and 2 with fs.writeSync, captured for a test. A test file mocks
// node:fs with it (vi.mock is hoisted, so the factory imports this module itself):
//   vi.mock('node:fs', async (importOriginal) => (await import('../helpers/captured-fds.js')).fsCapturingStdio(await importOriginal()));
// and reads or clears `captured[1]` / `captured[2]`. This module must not import node:fs.
export const captured: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };

export function fsCapturingStdio<T extends { writeSync: unknown }>(actual: T): T & { default: T } {
  const writeSync = (fd: number, data: unknown, ...rest: unknown[]): number => {
    if ((fd === 1 || fd === 2) && Buffer.isBuffer(data)) {
      const off = (rest[0] as number | undefined) ?? 0;
      const len = (rest[1] as number | undefined) ?? data.length - off;
      captured[fd].push(Buffer.from(data.subarray(off, off + len)));
      return len;
    }
    return (actual.writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
  };
  return { ...actual, default: { ...actual, writeSync }, writeSync };
}
