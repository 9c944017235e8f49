// Secret masking: every line Lifeboat prints or journals goes through a Masker. Secrets may be of any
// length and count (a 40,000-character environment value too): the text is searched with indexOf per
// secret, never with one combined RegExp (which V8 refuses beyond a size).

const MIN_SECRET_LENGTH = 4;
export const MASK = '***';
// What ends the kept part of an over-long output line (src/process/lines.ts). The cut may fall inside a
// secret: the secret's first bytes before this mark are masked too.
export const LINE_CUT_MARK = ' [… line cut: ';
// A secret's leading piece this long or longer right before a cut is masked.
const MIN_CUT_PREFIX = 2;

// Environment files hold secrets and plain settings side by side (`DB_USER=postgres`, `ENABLED=true`).
// A value is a secret when its key looks like one, or when the value itself looks like a token.
const SECRET_KEY_RE = /PASS|PWD|SECRET|TOKEN|KEY|AUTH|CRED|PRIVATE|SALT|COOKIE|SESSION|SIGNATURE|CERT|DSN/i;
// A value without whitespace that is not an absolute path, and either this long...
const LONG_VALUE = 24;
// ...or this long with letters and digits mixed (a generated password or id: `f3Kq9x2LmP8z`).
const MIXED_VALUE = 12;

// Whether an environment file's KEY=VALUE should be masked in logs (README "Choices where the contract is silent").
export function isSecretEntry(key: string, value: string): boolean {
  if (SECRET_KEY_RE.test(key)) return true;
  if (/:\/\/[^/@\s]*:[^@\s/]+@/.test(value)) return true; // a URL with a password in it
  const text = value.trim();
  if (/\s/.test(text) || text.startsWith('/')) return false;
  if (text.length >= LONG_VALUE) return true;
  return text.length >= MIXED_VALUE && /[A-Za-z]/.test(text) && /[0-9]/.test(text);
}

export class Masker {
  private secrets = new Set<string>();

  // Called whenever a secret becomes known (env file values, passwords, repository env).
  add(...values: Array<string | undefined>): void {
    for (const raw of values) {
      if (raw === undefined) continue;
      if (this !== processMasker) processMasker.add(raw);
      for (const value of [raw, raw.trim()]) {
        if (value.length >= MIN_SECRET_LENGTH) this.secrets.add(value);
      }
    }
  }

  // Registers the secret-looking values of environment files (isSecretEntry), not `true` or `postgres`.
  addEnv(...envs: Array<Record<string, string> | undefined>): void {
    for (const env of envs) for (const [key, value] of Object.entries(env ?? {})) if (isSecretEntry(key, value)) this.add(value);
  }

  // Replaces every known secret in a text. Where secrets overlap, the longest starting at the leftmost
  // position wins and the scan goes on after it (as a longest-first alternation would).
  mask(text: string): string {
    const masked = this.maskWhole(text);
    const cut = masked.indexOf(LINE_CUT_MARK);
    return cut < 0 ? masked : this.maskCutSecret(masked.slice(0, cut)) + masked.slice(cut);
  }

  // The text with the longest leading piece of any secret at its very end replaced.
  private maskCutSecret(kept: string): string {
    let longest = 0;
    for (const secret of this.secrets) {
      for (let length = Math.min(secret.length - 1, kept.length); length >= MIN_CUT_PREFIX && length > longest; length--) {
        if (kept.endsWith(secret.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest ? kept.slice(0, kept.length - longest) + MASK : kept;
  }

  private maskWhole(text: string): string {
    if (this.secrets.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
    // The longest secret starting at each position where one does.
    const starts = new Map<number, number>();
    for (const secret of this.secrets) {
      for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) {
        if ((starts.get(at) ?? 0) < secret.length) starts.set(at, secret.length);
      }
    }
    if (starts.size === 0) return text;
    let out = '';
    let done = 0;
    for (const at of [...starts.keys()].sort((a, b) => a - b)) {
      if (at < done) continue;
      out += text.slice(done, at) + MASK;
      done = at + starts.get(at)!;
    }
    return out + text.slice(done);
  }

  get size(): number {
    return this.secrets.size;
  }
}

// Every secret any Masker of this process was given: an error that reaches the CLI's top level, outside
// the logger of the command that raised it, is masked with them (maskKnownSecrets).
const processMasker = new Masker();

// A text with every secret this process knows replaced.
export function maskKnownSecrets(text: string): string {
  return processMasker.mask(text);
}
