/**
 * Silent session renewal (docs/protocol.md "Dashboard addresses"): the current token goes to
 * `POST /api/session/refresh` and a new one with the same identity comes back, so nobody is asked
 * to sign in while their session may go on. A refusal says why (the session reached its maximum,
 * the token is no longer accepted, tokens come from an identity provider), in words for a banner.
 */
export type Renewal = { token: string } | { refused: string };

/** `gatewayUrl`: the gateway's address (`https://host`); a page leaves it out and asks its own origin. */
export async function renewSession(token: string | null, gatewayUrl = ''): Promise<Renewal> {
  if (!token) return { refused: 'not signed in' };
  try {
    const res = await fetch(`${gatewayUrl.replace(/\/+$/, '')}/api/session/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await res.json().catch(() => ({}))) as { token?: unknown; error?: { message?: unknown } };
    if (res.ok && typeof body.token === 'string') return { token: body.token };
    const message = typeof body.error?.message === 'string' ? body.error.message : `HTTP ${res.status}`;
    return { refused: message };
  } catch {
    return { refused: 'the server could not be reached' };
  }
}
