// File names as bytes. Inside the tar provider every path is a "byte string": one character per byte
// (latin1), so names that are not UTF-8 (0xff 0xfe, a lone 0xc3) survive walking, archiving, the
// manifest and extraction unchanged; fs calls get them back as Buffers.
import { isUtf8 } from 'node:buffer';

// A path given as text (configuration, the restore target) as a byte string.
export function fromText(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

// A name read as a Buffer (readdir with encoding 'buffer', a tar header) as a byte string.
export function fromBuffer(buffer: Buffer): string {
  return buffer.toString('latin1');
}

// A byte string as the Buffer fs calls take.
export function toBuffer(bytes: string): Buffer {
  return Buffer.from(bytes, 'latin1');
}

// True when the bytes are valid UTF-8 (a name a JSON string can hold as is).
export function isText(bytes: string): boolean {
  return isUtf8(toBuffer(bytes));
}

// A byte string as text for matching excludes (bytes that are not UTF-8 read as U+FFFD).
export function toText(bytes: string): string {
  return toBuffer(bytes).toString('utf8');
}

// A name for messages: UTF-8 shown as is, other bytes and control characters as \xNN.
export function displayName(bytes: string): string {
  if (isText(bytes) && !/[\x00-\x1f\x7f]/.test(toText(bytes))) return toText(bytes);
  return [...toBuffer(bytes)].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

// A name for the manifest: `{path}` when it is UTF-8, else `{path: display, pathB64: exact bytes}`.
export function manifestName(bytes: string, key: 'path' | 'target'): Record<string, string> {
  if (isText(bytes)) return { [key]: toText(bytes) };
  return { [key]: displayName(bytes), [`${key}B64`]: toBuffer(bytes).toString('base64') };
}

// The byte string a manifest field holds: the base64 form wins when present.
export function readManifestName(text: string | undefined, b64: string | undefined): string | undefined {
  if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('latin1');
  return text === undefined ? undefined : fromText(text);
}
