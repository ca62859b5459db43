// Load generator for the Socket.IO peer, measuring as bench/loadgen/fanout.js does for our own
// clients: N clients (websocket transport only) split over the servers, each subscribed to one
// room, timing every `update` from its `sent_at` to receipt and checking `seq` for gaps.
// Only 127.0.0.1 is allowed. Commands arrive on stdin, one per line:
//   PHASE <name>   reset the counters     REPORT   print one JSON line     STOP   close and exit
//   INSERTS <file> [before]  insert-to-client figures, as bench/loadgen/fanout.js
"use strict";
const { io } = require("socket.io-client");
const readline = require("readline");
const fs = require("fs");
const { percentile, cpuShare, insertTracker, reflect, insertReport } = require("../../loadgen/measure");
const { arg, loopback } = require("./args");

const urls = arg("urls", "").split(",").filter(Boolean).map((url) => loopback(url, "http"));
const clients = Number(arg("clients", "100"));
const scope = arg("scope", "dept:ER");
const connectRate = Number(arg("connect-rate", "200"));
const maxSeconds = Number(arg("max-seconds", "900"));

let phase = fresh("connect");
const sockets = [];

function fresh(name) {
  return { name, inserts: insertTracker(), deliveries: 0, latencies: [], gaps: 0, outOfOrder: 0, handshakes: [], closes: {},
           cpuStart: process.cpuUsage(), wallStart: Date.now() };
}

function report() {
  return {
    phase: phase.name,
    open: sockets.filter((s) => s.connected).length,
    subscribed: sockets.filter((s) => s.subscribed).length,
    deliveries: phase.deliveries,
    latency_p50_ms: percentile(phase.latencies, 0.5),
    latency_p99_ms: percentile(phase.latencies, 0.99),
    gaps: phase.gaps,
    out_of_order: phase.outOfOrder,
    handshake_p50_ms: percentile(phase.handshakes, 0.5),
    handshake_p99_ms: percentile(phase.handshakes, 0.99),
    closes: phase.closes,
    loadgen_cpu_share: cpuShare(phase.cpuStart, phase.wallStart),
    wall_s: (Date.now() - phase.wallStart) / 1000,
  };
}

function open(index) {
  const started = Date.now();
  const socket = io(urls[index % urls.length], {
    transports: ["websocket"], forceNew: true, reconnection: false, perMessageDeflate: false,
  });
  socket.subscribed = false;
  socket.lastSeq = null;
  socket.on("connect", () => {
    socket.emit("subscribe", scope, () => {
      phase.handshakes.push(Date.now() - started);
      socket.subscribed = true;
      // The publisher starts at seq 1 once every client is subscribed: a missing first update is a gap.
      socket.lastSeq = 0;
    });
  });
  socket.on("update", (message) => {
    const now = Date.now();
    if (message.scope !== scope) return;
    if (socket.lastSeq !== null) {
      if (message.seq <= socket.lastSeq) phase.outOfOrder += 1;
      else if (message.seq !== socket.lastSeq + 1) phase.gaps += message.seq - socket.lastSeq - 1;
    }
    socket.lastSeq = Math.max(socket.lastSeq || 0, message.seq);
    phase.deliveries += 1;
    if (message.data && message.data.sent_at) phase.latencies.push(now - message.data.sent_at);
    reflect(phase.inserts, socket, message.data, now);
  });
  socket.on("disconnect", (reason) => { phase.closes[reason] = (phase.closes[reason] || 0) + 1; });
  socket.on("connect_error", () => { phase.closes.connect_error = (phase.closes.connect_error || 0) + 1; });
  return socket;
}

let opened = 0;
const opener = setInterval(() => {
  const batch = Math.max(1, Math.round(connectRate / 20));
  for (let i = 0; i < batch && opened < clients; i++) { sockets.push(open(opened)); opened++; }
  if (opened >= clients) clearInterval(opener);
}, 50);

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, name] = line.trim().split(/\s+/);
  if (command === "PHASE") phase = fresh(name || "phase");
  else if (command === "REPORT") process.stdout.write(JSON.stringify(report()) + "\n");
  else if (command === "INSERTS") {
    const insertedAt = JSON.parse(fs.readFileSync(name, "utf8"));
    const subscribed = sockets.filter((s) => s.subscribed).length;
    process.stdout.write(JSON.stringify(insertReport(phase.inserts, insertedAt, subscribed, Number(line.trim().split(/\s+/)[2] || 0))) + "\n");
  }
  else if (command === "STOP") { for (const s of sockets) s.disconnect(); process.exit(0); }
});
setTimeout(() => process.exit(3), maxSeconds * 1000);
