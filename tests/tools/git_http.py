#!/usr/bin/env python3
"""Git's smart HTTP protocol on HOST PORT: each request runs `git http-backend`
as a CGI program over the bare repositories under ROOT.

usage: git_http.py HOST PORT ROOT LOG [SECONDS]
Appends "CLIENT-ADDR METHOD PATH STATUS" per request to LOG; exits after
SECONDS (default 120). Prints "ready" once listening.
"""
import http.server
import os
import subprocess
import sys
import threading
import time
import urllib.parse

host, port, root, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 120
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def run_backend(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(url.path),
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             capture_output=True, timeout=60).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        with lock, open(log, "a") as f:
            f.write(f"{self.client_address[0]} {self.command} {url.path} {status}\n")

    do_GET = run_backend
    do_POST = run_backend


server = http.server.ThreadingHTTPServer((host, port), Handler)
server.daemon_threads = True
threading.Timer(seconds, server.shutdown).start()
print("ready", flush=True)
server.serve_forever()
