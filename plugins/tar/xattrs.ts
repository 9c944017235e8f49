// Extended attributes (POSIX ACLs included: system.posix_acl_access/default) for the tar provider,
// read with getfattr and written back with setfattr (Debian package attr), one process per tree: Node
// has no xattr calls. Both tools name files with \ooo escapes for \, newline and carriage return.
import { LifeboatError } from '../../src/errors.js';
import { runToEnd } from '../../src/process/runner.js';
import { displayName, toBuffer } from './names.js';

// Byte string path -> (attribute name -> value), all byte strings.
export type XattrMap = Map<string, Map<string, string>>;

const MAX_OUTPUT = 256 << 20;

// Runs a tool, feeding `input`; resolves its stdout, exit code and stderr, or undefined when the tool is missing.
async function run(command: string, args: string[], input?: Buffer): Promise<{ stdout: Buffer; code: number | null; stderr: string } | undefined> {
  const result = await runToEnd(command, { args, input: input ?? '', maxStdout: MAX_OUTPUT, maxStderr: 4000 });
  if (result.error) {
    if (result.error.code === 'ENOENT') return undefined;
    throw result.error;
  }
  if (result.overflow) throw new LifeboatError('PROVIDER', `${command} printed more than ${MAX_OUTPUT >> 20} MiB of extended attributes`, { hint: 'exclude the folders that hold them, or use restic or borg' });
  return { stdout: result.stdout, code: result.code, stderr: result.stderr };
}

// Reverses getfattr's \ooo escapes in a byte string.
function unescape(bytes: string): string {
  return bytes.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

// Escapes what setfattr --restore reads as special: \, control characters.
function escape(bytes: string): string {
  return bytes.replace(/[\x00-\x1f\x7f\\]/g, (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

// Every extended attribute below `root` (not following symlinks), and getfattr's first complaint (a file
// it could not read); undefined when getfattr is not installed.
export async function readXattrs(root: string): Promise<{ map: XattrMap; problem?: string } | undefined> {
  const result = await run('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names', '--', root]);
  if (!result) return undefined;
  const map: XattrMap = new Map();
  let current: Map<string, string> | undefined;
  for (const line of result.stdout.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      map.set(unescape(line.slice('# file: '.length)), current);
    } else if (current && line !== '') {
      const equals = line.indexOf('=');
      const name = unescape(equals === -1 ? line : line.slice(0, equals));
      const value = equals === -1 ? '' : line.slice(equals + 1);
      current.set(name, value.startsWith('0s') ? Buffer.from(value.slice(2), 'base64').toString('latin1') : value.replace(/^"|"$/g, ''));
    }
  }
  const problem = result.code === 0 ? undefined : (result.stderr.trim().split('\n')[0] ?? `exit ${result.code}`);
  return { map, problem };
}

// Sets the attributes on each path (symlinks themselves, never their targets); refuses naming the first file it could not set.
export async function writeXattrs(entries: Array<{ path: string; xattrs: Map<string, string> }>, where: string): Promise<void> {
  if (entries.length === 0) return;
  const dump = entries
    .map(({ path, xattrs }) => `# file: ${escape(path)}\n${[...xattrs].map(([name, value]) => `${escape(name)}=0s${toBuffer(value).toString('base64')}\n`).join('')}\n`)
    .join('');
  const first = displayName(entries[0].path);
  const result = await run('setfattr', ['-h', '--restore=-'], toBuffer(dump));
  if (!result) {
    throw new LifeboatError('USAGE', `${where}: ${first} has extended attributes or ACLs, and setfattr is not installed to restore them`, { hint: 'install it (Debian: apt-get install attr) and restore again' });
  }
  if (result.code !== 0) {
    const problem = result.stderr.trim().split('\n')[0] ?? `exit ${result.code}`;
    throw new LifeboatError('USAGE', `${where}: extended attributes or ACLs could not be restored: ${problem}`, { hint: 'restore as root onto a file system with xattr and ACL support (ext4, xfs, btrfs)' });
  }
}
