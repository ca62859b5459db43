// One Socket.IO server process as the original design would have run it: clients subscribe to
// their department's room, and whatever any process (or the publisher's emitter) broadcasts to
// a room reaches this process's members through the Redis adapter.
// It exits by itself after --max-seconds in case whoever started it is gone.
//   node server.js --port 40001 --redis redis://127.0.0.1:40000/0 [--max-seconds 900]
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");
const { arg, loopback } = require("./args");

const port = Number(arg("port", "0"));
const redisUrl = loopback(arg("redis", ""), "redis");
const maxSeconds = Number(arg("max-seconds", "900"));

async function main() {
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(pubClient, subClient),
    transports: ["websocket"],
    perMessageDeflate: false,
  });
  io.on("connection", (socket) => {
    socket.on("subscribe", (scope, ack) => {
      if (typeof scope !== "string" || !scope.startsWith("dept:")) return;
      socket.join(scope);
      if (typeof ack === "function") ack({ scope });
    });
  });
  httpServer.listen(port, "127.0.0.1", () => console.log("listening " + httpServer.address().port));
}

setTimeout(() => process.exit(3), maxSeconds * 1000);
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
