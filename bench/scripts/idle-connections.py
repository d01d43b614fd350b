#!/usr/bin/env python3
# RSS of serve per idle TCP connection: python3 bench/scripts/idle-connections.py path/to/spillway N (loopback only).
import socket, subprocess, sys, time, resource, os, re
binary, n = sys.argv[1], int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1000, n + 1000))
d = "/tmp/idle-" + str(os.getpid()); os.makedirs(d)
p = subprocess.Popen([binary, "serve", "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none", "--listen-http", "none", "--sqlite", d + "/x.db"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = None
for line in p.stdout:
    m = re.match(r"listening tcp 127.0.0.1:(\d+)", line)
    if m: port = int(m.group(1)); break
def rss():
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
time.sleep(2); base = rss()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"<13>hello\n" if i % 2 else b""); socks.append(s)
time.sleep(5); after = rss()
print(f"{binary}: {n} idle connections: RSS {base} KiB -> {after} KiB: {(after - base) / n:.2f} KiB each")
for s in socks: s.close()
p.terminate(); p.wait()
