#!/usr/bin/env python3
# RSS of serve with N request bodies of 4 MiB held (all but the last byte sent): python3 bench/scripts/held-bodies.py path/to/spillway N.
import socket, subprocess, sys, time, os, re
binary, n = sys.argv[1], int(sys.argv[2])
d = "/tmp/bodies-" + str(os.getpid()); os.makedirs(d)
p = subprocess.Popen([binary, "serve", "--listen-tcp", "none", "--listen-udp", "none", "--listen-http", "127.0.0.1:0", "--sqlite", d + "/x.db"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = None
for line in p.stdout:
    m = re.match(r"listening http 127.0.0.1:(\d+)", line)
    if m: port = int(m.group(1)); break
def rss():
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
time.sleep(2); base = rss()
size = 4 << 20
line = (b"x" * 99 + b"\n")
body = line * (size // 100)
body = body + b"y" * (size - len(body))
socks = []; refused = 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % size)
    s.setblocking(False)
    try:
        s.sendall(body[:-1])
    except BlockingIOError:
        pass
    socks.append(s)
time.sleep(8); after = rss()
for s in socks:
    try:
        d_ = s.recv(100)
        if b"503" in d_: refused += 1
    except BlockingIOError: pass
print(f"{binary}: {n} bodies of 4 MiB held: RSS {base} KiB -> {after} KiB (+{(after-base)//1024} MiB); {refused} answered 503 at once")
for s in socks: s.close()
p.terminate(); p.wait()
