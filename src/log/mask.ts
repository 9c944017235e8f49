// Secret masking: every line Lifeboat prints or journals goes through a Masker.

const MIN_SECRET_LENGTH = 4;
export const MASK = '***';

export class Masker {
  private secrets = new Set<string>();
  private pattern: RegExp | undefined;

  // Called whenever a secret becomes known (env file values, passwords, repository env).
  add(...values: Array<string | undefined>): void {
    let changed = false;
    for (const raw of values) {
      if (raw === undefined) continue;
      for (const value of [raw, raw.trim()]) {
        if (value.length < MIN_SECRET_LENGTH || this.secrets.has(value)) continue;
        this.secrets.add(value);
        changed = true;
      }
    }
    if (changed) this.pattern = undefined;
  }

  // Replaces every known secret in a text, longest first so overlapping secrets mask fully.
  mask(text: string): string {
    if (this.secrets.size === 0) return text;
    if (!this.pattern) {
      const sorted = [...this.secrets].sort((a, b) => b.length - a.length);
      this.pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    }
    return text.replace(this.pattern, MASK);
  }

  get size(): number {
    return this.secrets.size;
  }
}

// Escapes a literal for use inside a RegExp.
function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
