// The peer's per-change publisher: each line on stdin is one change's message (JSON, from
// bench/change_reader.py), emitted at once as `update` to its room through Redis with
// @socket.io/redis-emitter, as the original design would publish from its change stream.
// Exits when stdin ends.
//   python -m bench.change_reader ... | node relay.js --redis redis://127.0.0.1:40000/0
"use strict";
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");
const readline = require("readline");
const { arg, loopback } = require("./args");

const redisUrl = loopback(arg("redis", ""), "redis");

async function main() {
  const client = createClient({ url: redisUrl });
  await client.connect();
  const emitter = new Emitter(client);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const message = JSON.parse(line);
    if (typeof message.scope !== "string" || !Number.isInteger(message.seq)) {
      throw new Error("not a change message: " + line.slice(0, 200));
    }
    emitter.to(message.scope).emit("update", message);
  }
  await client.quit();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
