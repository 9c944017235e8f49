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
