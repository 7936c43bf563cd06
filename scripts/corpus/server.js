// A Node.js HTTP server holding a Map of objects (the kind of state a small service keeps), for
// scripts/make-corpus.sh. Deterministic contents: node server.js ENTRIES SEED.
// Listens on a loopback port chosen by the system, prints "ready PORT" once the objects are
// built, and serves /count until it is killed.
'use strict';
const http = require('http');

const entries = Number(process.argv[2] || 250000);
let state = Number(process.argv[3] || 1) >>> 0;
function random() {  // xorshift32: the same contents on every run
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 4294967296;
}
const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function word(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)];
  return s;
}
function randomBytes(n) {  // a session token: bytes that do not compress
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
  return b;
}
const kinds = ['click', 'view', 'purchase', 'signup', 'logout'];
const sessions = new Map();
for (let i = 0; i < entries; i++) {
  sessions.set('s' + word(12), {
    user: word(4 + Math.floor(random() * 16)),
    kind: kinds[Math.floor(random() * kinds.length)],
    at: 1700000000000 + Math.floor(random() * 1e9),
    amount: Math.round(random() * 1e6) / 100,
    ratio: random(),
    path: ['home', word(6), 'items', String(Math.floor(random() * 1e5))],
    flags: { admin: random() < 0.01, beta: random() < 0.3 },
    token: randomBytes(32 + Math.floor(random() * 64)),
  });
}
const server = http.createServer((req, res) => { res.end(String(sessions.size)); });
server.listen(0, '127.0.0.1', () => { console.log('ready ' + server.address().port); });
