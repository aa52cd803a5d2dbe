// gotool: a small Go program for tests/seccomp.sh, built with CGO_ENABLED=0
// (static, raw system calls: what LD_PRELOAD cannot reach).
//
//	gotool server ADDR            HTTP server answering "go-server-ok PATH"; /names answers
//	                              "local ADDR remote ADDR" (the connection's names as the server sees them)
//	gotool client URL [N]         N concurrent GETs (default 1); prints the first body, fails if any fails
//	gotool udpecho ADDR           UDP echo server
//	gotool udpsend ADDR MSG       send MSG from a socket bound to 0.0.0.0:0, print the reply
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func die(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "gotool: "+f+"\n", a...)
	os.Exit(1)
}

func server(addr string) {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/names" {
			fmt.Fprintf(w, "local %v remote %s\n", r.Context().Value(http.LocalAddrContextKey), r.RemoteAddr)
			return
		}
		fmt.Fprintf(w, "go-server-ok %s\n", r.URL.Path)
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		die("listen %s: %v", addr, err)
	}
	fmt.Fprintf(os.Stderr, "gotool: listening on %s (bound %s)\n", addr, l.Addr())
	die("serve: %v", http.Serve(l, nil))
}

func client(url string, n int) {
	fmt.Fprintf(os.Stderr, "gotool: euid %d\n", os.Geteuid())
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	first, failed := "", 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(url)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				if first == "" {
					first = string(b)
				}
				mu.Unlock()
			}
			if err != nil {
				mu.Lock()
				failed++
				fmt.Fprintf(os.Stderr, "gotool: %v\n", err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Print(first)
	if failed > 0 {
		die("%d of %d requests failed", failed, n)
	}
}

func udpecho(addr string) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		die("listen %s: %v", addr, err)
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			die("read: %v", err)
		}
		c.WriteTo(append([]byte("echo "), buf[:n]...), from)
	}
}

func udpsend(addr, msg string) {
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		die("listen: %v", err)
	}
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		die("%v", err)
	}
	buf := make([]byte, 2048)
	for try := 0; try < 5; try++ {
		if _, err := c.WriteTo([]byte(msg), to); err != nil {
			die("send: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if n, _, err := c.ReadFrom(buf); err == nil {
			fmt.Println(string(buf[:n]))
			return
		}
	}
	die("no reply from %s", addr)
}

func main() {
	if len(os.Args) < 3 {
		die("usage: gotool server|client|udpecho|udpsend ARGS")
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2])
	case "client":
		n := 1
		if len(os.Args) > 3 {
			n, _ = strconv.Atoi(os.Args[3])
		}
		client(os.Args[2], n)
	case "udpecho":
		udpecho(os.Args[2])
	case "udpsend":
		udpsend(os.Args[2], os.Args[3])
	default:
		die("unknown command %s", os.Args[1])
	}
}
