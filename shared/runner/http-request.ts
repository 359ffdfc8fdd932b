/**
 * One HTTP request with Node's own `http`/`https`, for the CLI's calls to the gateway and a
 * runner's over HTTP. Not the global `fetch`: its first use loads undici, about 200 ms on the
 * machines here, which doubled the time of a short command such as `jobstream ls` and delayed
 * the command `jobstream run` starts (docs/cli.md "Start-up").
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpAnswer {
  status: number;
  /** The body as text (the gateway's answers are JSON, or a proxy's page). */
  text: string;
  /** Seconds to wait before asking again, from `Retry-After` (when given in seconds). */
  retryAfterS: number | null;
  /** Where a redirect points. Never followed: the caller says where the gateway really is. */
  location: string | null;
}

/** Sends one request and reads the whole answer; rejects when the gateway cannot be reached or `timeoutMs` passes. */
export function httpRequest(
  url: string,
  {
    method = 'GET',
    headers = {},
    body,
    timeoutMs,
  }: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:')
        throw new Error(`${target.protocol} is not http: or https:`);
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const transport = target.protocol === 'https:' ? https : http;
    const req = transport.request(
      target,
      { method, headers, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        let text = '';
        res.setEncoding('utf8'); // decoded as it comes, a character split across chunks kept whole
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text,
            retryAfterS: /^\d+$/.test(res.headers['retry-after'] ?? '')
              ? Number(res.headers['retry-after'])
              : null,
            location: res.headers.location ?? null,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body); // the whole body in end(): Node sends its Content-Length, not chunks
  });
}
