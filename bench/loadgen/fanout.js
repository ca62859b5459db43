// Load generator for the fan-out benchmark: N authenticated dashboard clients that follow the
// real protocol (hello, unsubscribe the default scope, subscribe to their own scope) and time
// every `update` from its publisher's `sent_at` to receipt, checking `seq` for gaps.
// Only 127.0.0.1 is allowed. Commands arrive on stdin, one per line:
//   PHASE <name>   reset the counters     REPORT   print one JSON line     STOP   close and exit
//   INSERTS <file> [before]  print one JSON line of insert-to-client figures, the file holding the
//                  inserts' times (a JSON array of ms since the epoch; see measure.js), `before` the
//                  number of inserts of earlier phases (default 0)
"use strict";
const WebSocket = require("ws");
const readline = require("readline");
const fs = require("fs");
const { percentile, cpuShare, insertTracker, reflect, insertReport } = require("./measure");

function arg(name, fallback) {
  const i = process.argv.indexOf("--" + name);
  return i === -1 ? fallback : process.argv[i + 1];
}

const urls = arg("urls", "").split(",").filter(Boolean);
const token = arg("token", "");
const clients = Number(arg("clients", "100"));
const scopes = arg("scopes", "dept:ER").split(",");
const connectRate = Number(arg("connect-rate", "200"));
const maxSeconds = Number(arg("max-seconds", "900"));
for (const url of urls) {
  if (!/^ws:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error("only ws://127.0.0.1 targets are allowed: " + url);
}

let phase = fresh("connect");
const sockets = [];
const handshakeByIndex = [];
const reconnecting = arg("reconnect", "no") === "yes";
let stopping = false;
let target = Infinity;

// Handshake-to-snapshot percentiles of each block of 1,000 connections, in opening order.
function handshakeWindows() {
  const windows = [];
  for (let start = 0; start < handshakeByIndex.length; start += 1000) {
    const block = handshakeByIndex.slice(start, start + 1000).filter((v) => v !== undefined);
    windows.push({ upto: Math.min(start + 1000, handshakeByIndex.length), done: block.length,
                   p50_ms: percentile(block, 0.5), p99_ms: percentile(block, 0.99) });
  }
  return windows;
}

function fresh(name) {
  return { name, inserts: insertTracker(), deliveries: 0, latencies: [], gaps: 0, outOfOrder: 0, snapshots: 0, recovered: 0, handshakes: [], closes: {},
           stalled: { sockets: 0, deliveries: 0, gaps: 0, closes: {}, latencies: [] },
           cpuStart: process.cpuUsage(), wallStart: Date.now() };
}

// STALL <fraction> <seconds>: every 1/fraction-th open socket stops reading for that long.
function stall(fraction, seconds) {
  const every = Math.max(1, Math.round(1 / fraction));
  sockets.forEach((socket, index) => {
    if (index % every !== 0 || socket.readyState !== WebSocket.OPEN) return;
    socket.stalled = true;
    phase.stalled.sockets += 1;
    socket.pause();
    setTimeout(() => socket.resume(), seconds * 1000);
  });
}

function report() {
  return {
    phase: phase.name,
    open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length,
    subscribed: sockets.filter((s) => s.subscribed).length,
    deliveries: phase.deliveries,
    latency_p50_ms: percentile(phase.latencies, 0.5),
    latency_p99_ms: percentile(phase.latencies, 0.99),
    gaps: phase.gaps,
    out_of_order: phase.outOfOrder,
    handshake_p50_ms: percentile(phase.handshakes, 0.5),
    handshake_p99_ms: percentile(phase.handshakes, 0.99),
    closes: phase.closes,
    handshake_windows: handshakeWindows(),
    recovered: phase.recovered,
    snapshots: phase.snapshots,
    caught_up: sockets.filter((s) => s.subscribed && s.readyState === WebSocket.OPEN && s.lastSeq >= target).length,
    stalled: { sockets: phase.stalled.sockets, deliveries: phase.stalled.deliveries, gaps: phase.stalled.gaps,
               closes: phase.stalled.closes, latency_p50_ms: percentile(phase.stalled.latencies, 0.5),
               latency_p99_ms: percentile(phase.stalled.latencies, 0.99) },
    loadgen_cpu_share: cpuShare(phase.cpuStart, phase.wallStart),
    wall_s: (Date.now() - phase.wallStart) / 1000,
  };
}

function open(index, previous) {
  const scope = scopes[index % scopes.length];
  const started = Date.now();
  const socket = new WebSocket(urls[index % urls.length], { headers: { Authorization: "Bearer " + token }, perMessageDeflate: false });
  socket.subscribed = false;
  socket.stalled = previous ? previous.stalled : false;
  socket.attempt = previous ? previous.attempt : 0;
  // A reconnecting client resubscribes with `since`, from where its previous connection got to.
  socket.lastSeq = previous ? previous.lastSeq : null;
  socket.epoch = previous ? previous.epoch : null;
  socket.on("message", (raw) => {
    const message = JSON.parse(raw);
    if (message.type === "hello") {
      socket.attempt = 0;
      for (const s of message.subscribed) if (s !== scope) socket.send(JSON.stringify({ type: "unsubscribe", scope: s }));
      if (!message.subscribed.includes(scope) || previous) {
        const since = socket.epoch !== null ? { epoch: socket.epoch, seq: socket.lastSeq } : undefined;
        socket.send(JSON.stringify({ type: "subscribe", scope, since }));
      }
    } else if (message.type === "subscribed" && message.scope === scope && message.recovered) {
      socket.subscribed = true;
      phase.recovered += 1;
    } else if (message.type === "snapshot" && message.scope === scope) {
      if (!socket.subscribed) {
        phase.handshakes.push(Date.now() - started);
        if (!previous) handshakeByIndex[index] = Date.now() - started;
      }
      socket.subscribed = true;
      socket.epoch = message.epoch;
      socket.lastSeq = message.seq;
      phase.snapshots += 1;
    } else if (message.type === "update" && message.scope === scope) {
      const now = Date.now();
      const stats = socket.stalled ? phase.stalled : phase;
      if (message.epoch === socket.epoch && socket.lastSeq !== null) {
        if (message.seq <= socket.lastSeq) phase.outOfOrder += 1;
        else if (message.seq !== socket.lastSeq + 1) stats.gaps += message.seq - socket.lastSeq - 1;
      }
      socket.lastSeq = Math.max(socket.lastSeq || 0, message.seq);
      stats.deliveries += 1;
      if (message.data && message.data.sent_at) stats.latencies.push(now - message.data.sent_at * 1000);
      reflect(phase.inserts, socket, message.data, now);
    }
  });
  socket.on("close", (code) => {
    const closes = socket.stalled ? phase.stalled.closes : phase.closes;
    closes[code] = (closes[code] || 0) + 1;
    if (reconnecting && !stopping) {
      // Full-jitter exponential backoff, as the dashboard page does.
      socket.attempt += 1;
      const ceiling = Math.min(30000, 500 * Math.pow(2, socket.attempt - 1));
      setTimeout(() => { sockets[index] = open(index, socket); }, Math.random() * ceiling);
    }
  });
  socket.on("error", () => {});
  return socket;
}

let opened = 0;
const opener = setInterval(() => {
  const batch = Math.max(1, Math.round(connectRate / 20));
  for (let i = 0; i < batch && opened < clients; i++) { sockets.push(open(opened, null)); opened++; }
  if (opened >= clients) clearInterval(opener);
}, 50);

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, name] = line.trim().split(/\s+/);
  if (command === "PHASE") phase = fresh(name || "phase");
  else if (command === "STALL") stall(Number(name), Number(line.trim().split(/\s+/)[2]));
  else if (command === "REPORT") process.stdout.write(JSON.stringify(report()) + "\n");
  else if (command === "TARGET") target = Number(name);
  else if (command === "INSERTS") {
    const insertedAt = JSON.parse(fs.readFileSync(name, "utf8"));
    const clientsSubscribed = sockets.filter((s) => s.subscribed).length;
    process.stdout.write(JSON.stringify(insertReport(phase.inserts, insertedAt, clientsSubscribed, Number(line.trim().split(/\s+/)[2] || 0))) + "\n");
  }
  else if (command === "STOP") { stopping = true; for (const s of sockets) s.terminate(); process.exit(0); }
});
setTimeout(() => process.exit(3), maxSeconds * 1000);
