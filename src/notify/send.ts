// One HTTP POST with a hard time limit; never throws: a failed ping is a warning, not a failed run.

export interface PingResult {
  ok: boolean;
  status?: number;
  error?: string;
}

// POSTs `body` to `url`; gives up after `timeoutMs` (connection and response together).
// Credentials in the URL (http://user:password@host/topic, as ntfy's access control takes them) go into an
// Authorization: Basic header: fetch refuses a URL that carries them, and its error would show them.
export async function postPing(url: string, body: string, contentType: string, timeoutMs: number, extraHeaders: Record<string, string> = {}): Promise<PingResult> {
  try {
    const { target, authorization } = splitCredentials(url);
    const response = await fetch(target, {
      method: 'POST',
      body,
      headers: { 'content-type': contentType, 'user-agent': 'lifeboat', ...(authorization ? { authorization } : {}), ...extraHeaders },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.ok ? { ok: true, status: response.status } : { ok: false, status: response.status, error: `HTTP ${response.status} ${response.statusText}`.trim() };
  } catch (error) {
    return { ok: false, error: describeFetchError(error, timeoutMs) };
  }
}

// The URL without its user:password, and those as a Basic Authorization header value.
function splitCredentials(url: string): { target: string; authorization?: string } {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return { target: url };
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  return { target: parsed.href, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

// fetch() says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a timeout) is in its cause.
function describeFetchError(error: unknown, timeoutMs: number): string {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no answer within ${timeoutMs / 1000}s (timeout)`;
  const cause = err?.cause;
  if (cause?.code) return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? ` (${cause.message})` : ''}`;
  return cause?.message ?? err?.message ?? String(error);
}

// The URL as it may appear in a log: scheme and host only (the path of a ping URL is its secret).
export function redactUrl(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return 'an invalid URL';
  }
}
