// Node `dgram` at its defaults, both ways.
//   node node_dgram.js server PORT TOKEN   bind(PORT) (0.0.0.0), answer "dgram TOKEN <payload>"
//   node node_dgram.js client HOST PORT MSG  send() on an unbound socket, print the reply
const dgram = require("node:dgram");
const [mode, a, b, c] = process.argv.slice(2);
if (mode === "server") {
  const s = dgram.createSocket("udp4");
  s.on("message", (msg, rinfo) => s.send(`dgram ${b} ${msg}`, rinfo.port, rinfo.address));
  s.bind(Number(a), () => console.log(`listening ${JSON.stringify(s.address())}`));
  setTimeout(() => process.exit(0), 120000);
} else {
  const s = dgram.createSocket(a.includes(":") ? "udp6" : "udp4");
  s.on("message", (msg) => {
    console.log(String(msg).trim());
    process.exit(0);
  });
  s.on("error", (e) => {
    console.error(`node_dgram: ${e.message}`);
    process.exit(1);
  });
  s.send(c, Number(b), a);
  setTimeout(() => {
    console.error("node_dgram: no reply in 5 s");
    process.exit(1);
  }, 5000);
}
