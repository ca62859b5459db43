// The peer's publisher: emits `update` to one room through Redis at a fixed rate, each stamped
// with its `seq` and `sent_at` (ms since the epoch), like the publisher of bench/fanout.py.
// Prints "<published> <seconds taken>" and exits.
//   node publisher.js --redis redis://127.0.0.1:40000/0 --room dept:ER --rate 10 --seconds 10
"use strict";
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");
const { performance } = require("perf_hooks");
const { arg, loopback } = require("./args");

const redisUrl = loopback(arg("redis", ""), "redis");
const room = arg("room", "dept:ER");
const rate = Number(arg("rate", "10"));
const seconds = Number(arg("seconds", "10"));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function main() {
  const client = createClient({ url: redisUrl });
  await client.connect();
  const emitter = new Emitter(client);
  const ticks = Math.floor(rate * seconds);
  const start = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    await sleep(start + (tick * 1000) / rate - performance.now());
    emitter.to(room).emit("update", {
      scope: room,
      tier: "critical",
      epoch: "peer",
      seq: tick + 1,
      data: { computed_at: "2030-01-01T00:00:00.000Z", sent_at: Date.now(), patients: { emergency: tick } },
    });
  }
  await client.quit();
  console.log(ticks + " " + ((performance.now() - start) / 1000).toFixed(3));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
