// A Node `cluster` HTTP server with 2 workers at its default settings:
// listen(PORT) with no host (Node binds [::], dual-stack). Each answer names
// the worker that served it.
//   usage: node node_cluster.js PORT TOKEN [SECONDS]
const cluster = require("node:cluster");
const http = require("node:http");
const [port, token, seconds = "120"] = process.argv.slice(2);
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  cluster.on("exit", (w, code, signal) => {
    console.log(`worker ${w.process.pid} died (${signal || code})`);
    process.exit(1);
  });
  setTimeout(() => process.exit(0), Number(seconds) * 1000);
} else {
  http.createServer((_req, res) => {
    res.setHeader("Connection", "close");
    res.end(`worker ${process.pid} ${token}\n`);
  }).listen(Number(port), function () {
    const a = this.address();
    console.log(`worker ${process.pid} listening ${a.address} ${a.port}`);
  });
}
