// The kernel refuses to start a program when one environment string is longer than MAX_ARG_STRLEN
// (32 pages: 131072 bytes on Linux, "NAME=value" counted with its terminating NUL) and says only E2BIG.
// FOLDERS can reach that with many long folders: it is then left out, with a warning naming the limit and
// FOLDERS_FILE (the same list, one path per line, always set; `check` warns ahead); any other variable
// that long is an error.

export const MAX_ARG_STRLEN = 131072;

// The size the kernel counts for FOLDERS (the folders joined with ':'), when it is over the limit.
export function foldersTooLong(folders: string[]): number | undefined {
  const size = Buffer.byteLength(`FOLDERS=${folders.join(':')}`) + 1;
  return size > MAX_ARG_STRLEN ? size : undefined;
}

// Returns the environment to start a part with, or an error when it cannot be started at all.
export function fitEnvironment(env: Record<string, string>, report: (message: string) => void): { env: Record<string, string>; error?: string } {
  const out = { ...env };
  for (const [key, value] of Object.entries(env)) {
    const size = Buffer.byteLength(`${key}=${value}`) + 1;
    if (size <= MAX_ARG_STRLEN) continue;
    if (key === 'FOLDERS') {
      delete out.FOLDERS;
      report(`FOLDERS is not set for this part: it is ${size} bytes, longer than the kernel's limit of ${MAX_ARG_STRLEN} bytes for one environment variable (MAX_ARG_STRLEN); read the folders from FOLDERS_FILE (${env.FOLDERS_FILE ?? 'a file with one path per line'}) instead`);
      continue;
    }
    return { env: out, error: `cannot start the part: the environment variable ${key} is ${size} bytes, longer than the kernel's limit of ${MAX_ARG_STRLEN} bytes for one environment variable (MAX_ARG_STRLEN); pass it in a file instead` };
  }
  return { env: out };
}
