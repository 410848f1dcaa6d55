// Development server for the supervisor console: serves host/console/ at
// /console/ and proxies every other path (the API, including the SSE
// stream, unbuffered) to a running switchboard, so the page is same-origin
// as it will be once the assets are embedded in the binary. No dependencies.
//
//   node tests/console/devserver.mjs [--listen 127.0.0.1:18081] [--target http://127.0.0.1:18080]
//   (or env CONSOLE_DEV_LISTEN, SWITCHBOARD_TARGET)

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../host/console');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function arg(name, env, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : process.env[env] || fallback;
}

/** Start the dev server; resolves to the node http.Server once listening. */
export function startDevServer({ listen = '127.0.0.1:0', target = 'http://127.0.0.1:18080' } = {}) {
  const upstream = new URL(target);
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://dev');
    if (url.pathname === '/' || url.pathname === '/console') {
      res.writeHead(302, { location: '/console/' });
      return res.end();
    }
    if (url.pathname.startsWith('/console/')) return serveAsset(url.pathname, res);
    proxy(req, res, upstream);
  });
  const [host, port] = splitHostPort(listen);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function splitHostPort(s) {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

async function serveAsset(pathname, res) {
  const rel = decodeURIComponent(pathname.slice('/console/'.length)) || 'index.html';
  const file = path.resolve(ROOT, rel);
  if (!file.startsWith(ROOT + path.sep)) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
      'cache-control': 'no-cache',
      // The policy the embedded console is meant to be served with.
      'content-security-policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

function proxy(req, res, upstream) {
  const headers = { ...req.headers, host: upstream.host };
  const up = http.request(
    { hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
    (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      // Server-Sent Events: send each chunk on at once.
      if (String(ur.headers['content-type']).startsWith('text/event-stream')) res.flushHeaders();
      ur.pipe(res);
    },
  );
  up.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`switchboard unreachable at ${upstream.origin}: ${e.message}\n`);
  });
  // A client that goes away (an aborted stream) closes the upstream too.
  res.on('close', () => up.destroy());
  req.pipe(up);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const listen = arg('--listen', 'CONSOLE_DEV_LISTEN', '127.0.0.1:18081');
  const target = arg('--target', 'SWITCHBOARD_TARGET', 'http://127.0.0.1:18080');
  const server = await startDevServer({ listen, target });
  const a = server.address();
  console.log(`console at http://${a.address}:${a.port}/console/ (API proxied to ${target})`);
}
