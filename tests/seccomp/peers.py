#!/usr/bin/python3
"""A TCP server recording the address of every peer that connects (one line
each to PEERS_FILE), for the race test. usage: peers.py PORT PEERS_FILE"""
import socket, sys

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(512)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        c, peer = srv.accept()
        out.write(peer[0] + "\n")
        c.close()
