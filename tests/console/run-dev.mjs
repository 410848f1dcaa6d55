// Run the browser tests against a fresh switchboard and the dev server:
// starts `switchboard serve` (SWITCHBOARD_BIN, default
// target/debug/switchboard of this checkout) on a free port with a new data directory,
// serves the console in front of it, runs `node --test`, stops both.
//
//   node tests/console/run-dev.mjs            # all tests
//   SCREENSHOTS=1 node tests/console/run-dev.mjs   # also write docs/console/*.png

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevServer } from './devserver.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.SWITCHBOARD_BIN || path.resolve(here, '../../target/debug/switchboard');
const data = await mkdtemp(path.join(tmpdir(), 'sb-console-data-'));

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  }).on('error', reject);
});

const port = await freePort();
const target = `http://127.0.0.1:${port}`;
const server = spawn(bin, ['serve', '--data-dir', data, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
let code = 1;
let dev;
try {
  const deadline = Date.now() + 120e3;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`switchboard exited with ${server.exitCode}`);
    const ok = await fetch(`${target}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('switchboard did not become ready within 120 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  dev = await startDevServer({ listen: '127.0.0.1:0', target });
  const url = `http://127.0.0.1:${dev.address().port}`;
  const token = (await readFile(path.join(data, 'admin-token'), 'utf8')).trim();
  console.log(`switchboard ${target}, console ${url}/console/`);
  const files = process.argv.slice(2).length
    ? process.argv.slice(2)
    : (await readdir(here)).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join(here, f));
  const started = Date.now();
  const run = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
    stdio: 'inherit',
    env: { ...process.env, SWITCHBOARD_URL: url, SWITCHBOARD_TOKEN: token },
  });
  code = await new Promise((resolve) => run.on('exit', (c) => resolve(c ?? 1)));
  console.log(`browser tests took ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  dev?.closeAllConnections?.();
  dev?.close();
  server.kill('SIGTERM');
  await new Promise((r) => (server.exitCode !== null ? r() : server.on('exit', r)));
  await rm(data, { recursive: true, force: true });
}
process.exit(code);
