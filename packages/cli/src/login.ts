/**
 * `jobstream login <url>`: checks a token against the gateway, then keeps both for the next
 * commands (credentials.ts). The token comes from `--token`, from stdin when it is not a terminal
 * (`npm run token -- --sub me | jobstream login URL`), or is asked for without echo.
 */
import { claims } from '../../client/src/index.js';
import { normalizeUrl, removeCredentials, saveCredentials } from './credentials.js';
import { CliError, EXIT } from './exit-codes.js';
import { GatewayApi } from './gateway-api.js';
import type { Printer } from './terminal.js';

export async function login(
  printer: Printer,
  { url, token }: { url: string; token: string | undefined },
): Promise<number> {
  const gateway = normalizeUrl(url);
  const given = (
    token ?? (process.stdin.isTTY ? await askHidden(`Token for ${gateway}: `) : await readAll(process.stdin))
  ).trim();
  if (!given)
    throw new CliError('no token given: pass --token, pipe one in, or paste it when asked', EXIT.usage);
  // A token the gateway refuses is never kept: GatewayApi says why (401) or that it is unreachable.
  await new GatewayApi({ url: gateway, token: given }).get('/api/jobs?limit=1');
  const file = saveCredentials(gateway, given);
  const who = claims(given);
  const expires = who
    ? `; the token expires ${new Date(who.exp * 1000).toISOString()} and is renewed while in use`
    : '';
  printer.notice(
    `signed in to ${gateway}${who ? ` as ${who.sub} (${who.role})` : ''}${expires}; kept in ${file}`,
  );
  return EXIT.success;
}

export function logout(printer: Printer): number {
  printer.notice(removeCredentials() ? 'signed out' : 'was not signed in');
  return EXIT.success;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** A line typed on the terminal without echoing it (a token is a password). */
function askHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(text);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new CliError('interrupted', EXIT.cancelled));
        if (char === '\u007f') text = text.slice(0, -1);
        else text += char;
      }
    };
    input.on('data', onData);
  });
}
