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

module.exports = { percentile, cpuShare };
