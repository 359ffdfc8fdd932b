/**
 * The built dashboard (`client/dist`) at `/`: hashed assets cached for an hour, `index.html`
 * never cached, and the dashboard's client-side routes answered with the app; any other address
 * a browser asks for gets the app too, with 404, so a person sees the dashboard's own "no such
 * page" (with a way back), not "Cannot GET".
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router, type Response } from 'express';

/** Dashboard addresses (docs/protocol.md "Dashboard addresses") served the app for the client router. */
const CLIENT_ROUTES = ['/jobs/{*path}', '/watch', '/wall', '/signin'];

/** A router serving the build, or null when there is none (`npm run build` makes it). */
export function dashboard(staticDir: string | null): Router | null {
  if (!staticDir || !existsSync(join(staticDir, 'index.html'))) return null;
  const router = Router();
  router.use(express.static(staticDir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheHtml }));
  router.get(CLIENT_ROUTES, (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(staticDir, 'index.html'));
  });
  router.get('/{*path}', (req, res, next) => {
    if (!req.accepts('html')) return next(); // a missing asset or a program: the JSON 404
    res.status(404).setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(staticDir, 'index.html'));
  });
  return router;
}

function noCacheHtml(res: Response, path: string): void {
  if (path.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
}
