// Reads a plaintext tar file list (<id>.files.ndjson.gz, plugins/tar/file-list.ts) whole, for assertions.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface ReadList {
  head: { format: string; snapshot: Record<string, unknown>; exclude: string[] };
  entries: Array<{ path: string; pathB64?: string; type: string; size: number; mode: number; sha256?: string; target?: string; targetB64?: string }>;
  end: { end: true; entries: number; archiveSize: number; archiveSha256: string };
  lines: string[];
}

export function readFileList(file: string): ReadList {
  const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n');
  if (lines.pop() !== '') throw new Error(`${file} does not end with a newline`);
  const [head, ...rest] = lines.map((line) => JSON.parse(line) as unknown);
  const end = rest.pop();
  return { head, entries: rest, end, lines } as ReadList;
}
