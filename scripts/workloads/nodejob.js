// nodejob.js [RECORDS] [PASSES]: a Node.js job for `uswap run` (issue 11's real programs).
//
// Run with a fixed heap on every side, so a memory cgroup does not size it:
//   node --max-old-space-size=512 --max-semi-space-size=16 nodejob.js
// (both limits: V8 sizes its young generation from the memory node sees, which inside a memory
// cgroup is the cgroup's limit: at 85 MiB it made 526 scavenges of a small young generation
// where the unmanaged run makes 40 of 16 MiB semi-spaces, a different program to compare.)
// Builds RECORDS records (objects with strings, numbers and an array: V8's heap, which V8 maps
// itself), then PASSES times: updates every record, aggregates per group and digests the
// aggregates. Deterministic: the output depends only on the arguments. Unmanaged peak at the
// defaults: about 300 MiB of anonymous memory.
"use strict";
const crypto = require("crypto");

const records = Number(process.argv[2] || 600000);
const passes = Number(process.argv[3] || 2);

let x = 12345n;
const mask = (1n << 64n) - 1n;
function next() {
  x = (x * 6364136223846793005n + 1442695040888963407n) & mask;
  return Number(x >> 24n);
}

const recs = [];
for (let i = 0; i < records; i++) {
  const r = next();
  recs.push({
    id: i,
    group: "g" + (r % 3000),
    amount: (r % 100000) / 100,
    note: ("item-" + (r % 99991)).repeat(1 + (r % 9)),
    values: [r % 1000, (r >> 10) % 1000, (r >> 20) % 1000],
  });
}
console.log(`built ${recs.length} records`);

for (let p = 0; p < passes; p++) {
  const totals = new Map();
  for (const o of recs) {
    const r = next();
    o.amount = Math.round((o.amount * 1.01 + (r % 7)) * 100) / 100;
    o.values[r % 3] += r % 10;
    if (r % 5 === 0) o.note = o.note.slice(1) + o.note[0];
    let t = totals.get(o.group);
    if (!t) { t = [0, 0, 0]; totals.set(o.group, t); }
    t[0] += 1; t[1] += o.amount; t[2] += o.note.length + o.values[0];
  }
  const h = crypto.createHash("sha256");
  for (const k of [...totals.keys()].sort()) {
    const t = totals.get(k);
    h.update(`${k}:${t[0]}:${t[1].toFixed(2)}:${t[2]};`);
  }
  console.log(`pass ${p}: ${totals.size} groups, digest ${h.digest("hex").slice(0, 32)}`);
}
