// Terminal control codes in text that came from outside (a part's output, a database error, a name read
// from storage) could retitle or clear the operator's terminal: they are shown escaped, ESC as \x1b.
// Newline and tab stay as they are.

const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

// The text with every control character other than newline and tab written as \xHH.
export function escapeControl(text: string): string {
  CONTROL_RE.lastIndex = 0;
  if (!CONTROL_RE.test(text)) return text;
  return text.replace(CONTROL_RE, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// Every string inside a JSON-like value escaped with escapeControl (keys too), for stored records.
export function escapeControlDeep<T>(value: T): T {
  if (typeof value === 'string') return escapeControl(value) as T;
  if (Array.isArray(value)) return value.map((item) => escapeControlDeep(item)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeControl(k), escapeControlDeep(v)])) as T;
  }
  return value;
}
