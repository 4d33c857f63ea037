// Mastodon test release (a test double standing in for Mastodon's streaming server): NOT Mastodon.
// It listens where Mastodon's streaming/index.js would (the Unix socket $SOCKET, else
// $BIND:$PORT, 127.0.0.1:4000) and answers
//   GET /api/v1/streaming/health                "OK", as Mastodon does
//   GET /api/v1/streaming/chaton-test-release   its Unix user, the Node.js that runs it, and
//                                               whether it reaches the instance's Redis
//   a WebSocket upgrade on /api/v1/streaming    accepted (RFC 6455 handshake), one text frame,
//                                               then closed
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const PRODUCT_NAME = 'Mastodon test release';
const ROOT = path.resolve(__dirname, '..');
const VERSION = fs.readFileSync(path.join(ROOT, 'VERSION'), 'utf8').trim();

function redisPing(callback) {
  // As Mastodon's streaming server: REDIS_URL=unix:///path is a socket, REDIS_PASSWORD its password.
  const redisUrl = process.env.REDIS_URL || '';
  const password = process.env.REDIS_PASSWORD || '';
  const socket = redisUrl.startsWith('unix://')
    ? net.createConnection(redisUrl.slice(7))
    : net.createConnection(Number(process.env.REDIS_PORT || 6379), process.env.REDIS_HOST || '127.0.0.1');
  let answer = '';
  const done = (result) => { socket.destroy(); callback(result); };
  socket.setTimeout(5000, () => done({ ok: false, error: 'timeout' }));
  socket.on('error', (error) => done({ ok: false, error: error.code || String(error) }));
  socket.on('connect', () => {
    const auth = password ? `*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(password)}\r\n${password}\r\n` : '';
    socket.write(`${auth}*1\r\n$4\r\nPING\r\n`);
  });
  socket.on('data', (data) => {
    answer += data.toString();
    if (answer.includes('+PONG')) done({ ok: true });
    else if (answer.startsWith('-')) done({ ok: false, error: answer.split('\r\n')[0] });
  });
}

const server = http.createServer((request, response) => {
  const target = new URL(request.url, 'http://localhost');
  const send = (status, type, body) => {
    response.writeHead(status, { 'Content-Type': type, 'X-Test-Release': PRODUCT_NAME });
    response.end(body);
  };
  if (target.pathname === '/api/v1/streaming/health') {
    send(200, 'text/plain', 'OK');
  } else if (target.pathname === '/api/v1/streaming/chaton-test-release') {
    redisPing((redis) => send(200, 'application/json', JSON.stringify({
      product_name: PRODUCT_NAME,
      version: VERSION,
      unix_user: os.userInfo().username,
      // A bundled runtime's test double names itself (CHATON_TEST_RELEASE_NODE, "PATH VERSION").
      node: process.env.CHATON_TEST_RELEASE_NODE || `${process.execPath} ${process.versions.node}`,
      node_env: process.env.NODE_ENV || null,
      local_domain: process.env.LOCAL_DOMAIN || null,
      redis,
    })));
  } else {
    send(404, 'text/plain', `${PRODUCT_NAME}: not found\n`);
  }
});

server.on('upgrade', (request, socket) => {
  const key = request.headers['sec-websocket-key'];
  if (!key || !request.url.startsWith('/api/v1/streaming')) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1')
    .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
               `Sec-WebSocket-Accept: ${accept}\r\nX-Test-Release: ${PRODUCT_NAME}\r\n\r\n`);
  const text = Buffer.from(`${PRODUCT_NAME} streaming`);
  socket.end(Buffer.concat([Buffer.from([0x81, text.length]), text, Buffer.from([0x88, 0])]));
});

const socketPath = process.env.SOCKET || '';
const announce = (where) => console.log(`${PRODUCT_NAME} ${VERSION} (streaming stand-in): listening on ${where}`);
if (socketPath) {
  if (fs.existsSync(socketPath)) fs.unlinkSync(socketPath);
  server.listen(socketPath, () => announce(`unix://${socketPath}`));
} else {
  const port = Number(process.env.PORT || 4000);
  const bind = process.env.BIND || '127.0.0.1';
  server.listen(port, bind, () => announce(`${bind}:${port}`));
}
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
