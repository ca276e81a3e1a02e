#!/usr/bin/env python3
"""Load for udp.bench: sends COUNT 600-byte datagrams to HOST:PORT keeping
WINDOW in flight (each echo releases one), bounded by TIMEOUT seconds.
Prints 'sent N received M seconds S'."""
import socket, sys, time
host, port, count, window, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(('127.0.0.78', 0))
s.settimeout(0.5)
payload = b'OPTIONS sip:x SIP/2.0\r\n' + b'X' * 576
sent = recv = 0
t0 = time.time()
while recv < count and time.time() - t0 < timeout:
    while sent < count and sent - recv < window:
        s.sendto(payload, (host, port)); sent += 1
    try:
        s.recv(65535); recv += 1
    except socket.timeout:
        sent = recv  # lost ones: refill the window
print('sent', sent, 'received', recv, 'seconds', round(time.time() - t0, 3))
