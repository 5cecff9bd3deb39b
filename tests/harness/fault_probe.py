"""How a broker looks from outside, to a client that is neither kpipes nor librdkafka:
a plain TCP connection and one ApiVersions request (Kafka's wire protocol, v0).

  fault_probe.py HOST:PORT SECONDS

prints one JSON line: {"outcome": "answered" | "refused" | "no-answer" | "no-connection" | "closed",
"ms": how long it took}. "no-answer": the connection was accepted but nothing came back
within SECONDS (a frozen broker); "no-connection": the connection itself was not made
within SECONDS (packets dropped); "refused": nobody listens (a killed broker).
"""
import json
import socket
import struct
import sys
import time


def probe(address, seconds):
    host, port = address.rsplit(":", 1)
    started = time.monotonic()

    def done(outcome):
        return {"outcome": outcome, "ms": round((time.monotonic() - started) * 1000)}

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(seconds)
    try:
        sock.connect((socket.gethostbyname(host), int(port)))
    except ConnectionRefusedError:
        return done("refused")
    except (socket.timeout, TimeoutError):
        return done("no-connection")
    client = b"fault-probe"
    # ApiVersions (key 18) v0: api key, version, correlation id, client id.
    body = struct.pack(">hhih", 18, 0, 7, len(client)) + client
    try:
        sock.sendall(struct.pack(">i", len(body)) + body)
        sock.settimeout(max(0.1, seconds - (time.monotonic() - started)))
        head = b""
        while len(head) < 8:
            chunk = sock.recv(8 - len(head))
            if not chunk:
                break
            head += chunk
    except (socket.timeout, TimeoutError):
        return done("no-answer")
    except ConnectionError:
        return done("refused")
    finally:
        sock.close()
    if len(head) == 8 and struct.unpack(">i", head[4:])[0] == 7:
        return done("answered")
    return done("closed")


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], float(sys.argv[2]))))
