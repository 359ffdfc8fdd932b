/**
 * Where `jobstream` keeps who it is signed in as: `login` writes the gateway's address and the
 * token to `credentials.json` in the user's config folder (`$JOBSTREAM_CONFIG_DIR`, else
 * `$XDG_CONFIG_HOME/jobstream`, else `~/.config/jobstream`; `%APPDATA%\jobstream` on Windows),
 * readable by the user alone (0600 in a 0700 folder). `JOBSTREAM_URL` and `JOBSTREAM_TOKEN`, as
 * for `jobrun`, override it, so a script or CI job needs no file.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

export interface Credentials {
  url: string;
  token: string;
  /** Where they came from, for messages: the file or the environment. */
  source: 'file' | 'environment';
}

function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JOBSTREAM_CONFIG_DIR) return env.JOBSTREAM_CONFIG_DIR;
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'jobstream');
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'jobstream');
}

const credentialsFile = (env: NodeJS.ProcessEnv): string => join(configDir(env), 'credentials.json');

function readFile(env: NodeJS.ProcessEnv): { url?: string; token?: string } {
  let text: string;
  try {
    text = readFileSync(credentialsFile(env), 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object') return {};
    const { url, token } = parsed as Record<string, unknown>;
    return { ...(typeof url === 'string' ? { url } : {}), ...(typeof token === 'string' ? { token } : {}) };
  } catch {
    throw new CliError(
      `${credentialsFile(env)} is not valid JSON: sign in again with \`jobstream login <url>\``,
      EXIT.notSignedIn,
    );
  }
}

/** The gateway and token to use, or a message saying how to sign in. */
export function loadCredentials(env: NodeJS.ProcessEnv = process.env): Credentials {
  const saved = readFile(env);
  const url = env.JOBSTREAM_URL || saved.url;
  const token = env.JOBSTREAM_TOKEN || saved.token;
  if (!url || !token)
    throw new CliError(
      'not signed in: run `jobstream login <gateway url>` (or set JOBSTREAM_URL and JOBSTREAM_TOKEN)',
      EXIT.notSignedIn,
    );
  const source = env.JOBSTREAM_TOKEN ? 'environment' : 'file';
  return { url: normalizeUrl(url), token, source };
}

/** Keeps the gateway's address and token for the next commands, readable by the user alone. */
export function saveCredentials(url: string, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configDir(env);
  const file = credentialsFile(env);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Written whole then renamed: a crash never leaves half a token; created 0600, never wider.
    writeFileSync(temporary, `${JSON.stringify({ url, token }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, file);
  } catch (error) {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // nothing was written there
    }
    throw new CliError(
      `cannot keep the token in ${file} (${(error as Error).message}): set JOBSTREAM_CONFIG_DIR to a folder you can write, or use JOBSTREAM_URL and JOBSTREAM_TOKEN`,
      EXIT.failed,
    );
  }
  return file;
}

/** A renewed token replaces the saved one (only when the saved one is in use). */
export function updateSavedToken(
  credentials: Credentials,
  token: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (credentials.source === 'file') saveCredentials(credentials.url, token, env);
}

export function removeCredentials(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = credentialsFile(env);
  try {
    rmSync(file);
    return true;
  } catch {
    return false;
  }
}

/** `http://host:8080/` → `http://host:8080`; a bare `host:8080` is refused with what to write. */
export function normalizeUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(
      `"${text}" is not a URL: write the gateway's address, as http://host:8080`,
      EXIT.usage,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`"${text}" is not an http or https address (write http://host:8080)`, EXIT.usage);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
