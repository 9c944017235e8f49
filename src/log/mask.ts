// Secret masking: every line Lifeboat prints or journals goes through a Masker. Secrets may be of any
// length and count (a 40,000-character environment value too): the text is searched with indexOf per
// secret, never with one combined RegExp (which V8 refuses beyond a size).

const MIN_SECRET_LENGTH = 4;
export const MASK = '***';

export class Masker {
  private secrets = new Set<string>();

  // Called whenever a secret becomes known (env file values, passwords, repository env).
  add(...values: Array<string | undefined>): void {
    for (const raw of values) {
      if (raw === undefined) continue;
      for (const value of [raw, raw.trim()]) {
        if (value.length >= MIN_SECRET_LENGTH) this.secrets.add(value);
      }
    }
  }

  // Replaces every known secret in a text. Where secrets overlap, the longest starting at the leftmost
  // position wins and the scan goes on after it (as a longest-first alternation would).
  mask(text: string): string {
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
