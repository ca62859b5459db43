// What every load generator of make bench measures the same way: percentiles of its samples
// and its own CPU share, so that figures of different servers can be compared.
"use strict";

function percentile(values, p) {
  if (!values.length) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))];
}

// Share of one core this process used since `cpuStart` (process.cpuUsage()) and `wallStart` (ms).
function cpuShare(cpuStart, wallStart) {
  const cpu = process.cpuUsage(cpuStart);
  return (cpu.user + cpu.system) / 1e6 / Math.max((Date.now() - wallStart) / 1000, 0.001);
}

// Insert-to-client figures (bench/inserts.py): the i-th MongoDB insert makes a department's
// `patients.emergency` count i, so a client has seen insert i once a message of its scope carries
// a count of i or more. `seen[i]` holds each client's first receipt time of insert i (ms).
function insertTracker() {
  return { seen: [] };
}

function reflect(tracker, socket, data, now) {
  const count = data && data.patients ? data.patients.emergency : undefined;
  if (typeof count !== "number" || !Number.isInteger(count) || count > 1e6) return;
  const from = socket.reflected || 0;
  for (let i = from + 1; i <= count; i++) (tracker.seen[i] = tracker.seen[i] || []).push(now);
  if (count > from) socket.reflected = count;
}

// `insertedAt[k]`: when insert `before` + k + 1 was sent (ms since the epoch), `before` being the
// inserts of earlier phases. Every client should see every insert.
function insertReport(tracker, insertedAt, clients, before = 0) {
  const latencies = [];
  insertedAt.forEach((at, k) => { for (const t of tracker.seen[before + k + 1] || []) latencies.push(t - at); });
  return {
    inserts: insertedAt.length,
    clients,
    seen: latencies.length,
    lost: Math.max(0, clients * insertedAt.length - latencies.length),
    latency_p50_ms: percentile(latencies, 0.5),
    latency_p99_ms: percentile(latencies, 0.99),
  };
}

module.exports = { percentile, cpuShare, insertTracker, reflect, insertReport };
