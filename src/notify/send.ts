// One HTTP POST with a hard time limit; never throws: a failed ping is a warning, not a failed run.

export interface PingResult {
  ok: boolean;
  status?: number;
  error?: string;
}

// POSTs `body` to `url`; gives up after `timeoutMs` (connection and response together).
export async function postPing(url: string, body: string, contentType: string, timeoutMs: number, extraHeaders: Record<string, string> = {}): Promise<PingResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': contentType, 'user-agent': 'lifeboat', ...extraHeaders },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.ok ? { ok: true, status: response.status } : { ok: false, status: response.status, error: `HTTP ${response.status} ${response.statusText}`.trim() };
  } catch (error) {
    return { ok: false, error: describeFetchError(error, timeoutMs) };
  }
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
