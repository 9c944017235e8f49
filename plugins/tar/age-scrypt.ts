// age's scrypt recipient and identity (the passphrase stanza of https://age-encryption.org/v1) with
// Node's own scrypt and ChaCha20-Poly1305 (OpenSSL), plugged into the age library through its public
// Recipient/Identity interfaces. The library's scrypt is JavaScript: at work factor 2^15 it raised a
// backup's peak RSS by ~36 MB (to 152 MB for a 1 GiB archive, over the bound); OpenSSL's allocates its
// 32 MiB outside the JavaScript heap and frees it at once. Same stanza, same checks as the library's:
// `scrypt <base64 salt> <log2 N>`, a 16-byte salt, the file key sealed with a zero nonce.
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { Stanza, type Identity, type Recipient } from 'age-encryption';

const LABEL = Buffer.from('age-encryption.org/v1/scrypt', 'latin1');
// The highest work factor accepted when decrypting (the age library's limit): 2^20 needs 1 GiB.
const MAX_WORK_FACTOR = 20;

// The wrapping key: scrypt(passphrase, label || salt, N = 2^logN, r = 8, p = 1), 32 bytes.
function deriveKey(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(passphrase, 'utf8'), Buffer.concat([LABEL, salt]), 32, { N, r: 8, p: 1, maxmem: 128 * 8 * N + (16 << 20) }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

// base64 without padding, as age writes stanza arguments; refuses anything else.
function decodeNoPad(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === text ? bytes : undefined;
}

// Encrypts the file key to a passphrase.
export class ScryptRecipient implements Recipient {
  private prepared?: { salt: Buffer; key: Buffer };

  constructor(
    private readonly passphrase: string,
    private readonly logN: number,
  ) {}

  // Derives the salt and key now, for one later file: a backup seals its file list at the end, when its
  // memory is at its peak, so the 32 MiB scrypt runs at the start instead.
  static async prepare(passphrase: string, logN: number): Promise<ScryptRecipient> {
    const recipient = new ScryptRecipient(passphrase, logN);
    const salt = randomBytes(16);
    recipient.prepared = { salt, key: await deriveKey(passphrase, salt, logN) };
    return recipient;
  }

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    // A prepared salt and key seal one file only: the zero nonce must never meet the same key twice.
    const { salt, key } = this.prepared ?? { salt: randomBytes(16), key: undefined };
    this.prepared = undefined;
    const wrapping = key ?? (await deriveKey(this.passphrase, salt, this.logN));
    const cipher = createCipheriv('chacha20-poly1305', wrapping, Buffer.alloc(12), { authTagLength: 16 });
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    return [new Stanza(['scrypt', salt.toString('base64').replace(/=+$/, ''), String(this.logN)], body)];
  }
}

// Decrypts the file key with a passphrase; null when the header has no scrypt stanza or the passphrase
// is not the one (the library then says no identity matched).
export class ScryptIdentity implements Identity {
  constructor(private readonly passphrase: string) {}

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    const stanza = stanzas.find((s) => s.args[0] === 'scrypt');
    if (!stanza) return null;
    // Reasons: AgeKeys.failure (age.ts) wraps what decryption throws into a PROVIDER error with its fix.
    if (stanzas.length !== 1) throw new Error('scrypt recipient is not the only one in the header');
    const [, saltText, factor] = stanza.args;
    const salt = stanza.args.length === 3 ? decodeNoPad(saltText) : undefined;
    if (!salt || salt.length !== 16 || !/^[1-9][0-9]*$/.test(factor) || stanza.body.length !== 32) throw new Error('invalid scrypt stanza');
    const logN = Number(factor);
    if (logN > MAX_WORK_FACTOR) throw new Error('scrypt work factor is too high');
    const key = await deriveKey(this.passphrase, salt, logN);
    const body = Buffer.from(stanza.body);
    const decipher = createDecipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });
    decipher.setAuthTag(body.subarray(16));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, 16)), decipher.final()]);
    } catch {
      return null;
    }
  }
}
