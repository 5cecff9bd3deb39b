"""A tiny OIDC provider for tests/connecting.rs: a client-credentials token endpoint and the
JWKS that Kafka's OAUTHBEARER validator checks tokens against, with an RSA key made per run.

Usage: oidc_provider.py SECRET. Prints `PORT N` once listening on 127.0.0.1:N, then serves
until stdin closes (the test holds it open; a test that dies takes the provider with it).

  GET  /jwks   the public key (kid "kpipes-test")
  POST /token  grant_type=client_credentials, the client's id and secret as HTTP Basic auth
               (what librdkafka sends). Any client id with the right SECRET gets a token for
               subject = its id, except:
                 expired-*  a token that expired an hour ago
                 forged-*   a token signed by another key (same kid): the broker must refuse it
               A wrong secret: 401 invalid_client.
"""
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KID = "kpipes-test"
SECRET = sys.argv[1]
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def token(subject, key, expires_in):
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": KID}
    claims = {"sub": subject, "iss": "kpipes-test-provider", "iat": now - 60 if expires_in > 0 else now - 7200,
              "exp": now + expires_in, "scope": "kafka"}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/jwks":
            return self.reply(404, {"error": "not_found"})
        public = KEY.public_key().public_numbers()
        self.reply(200, {"keys": [{"kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
                                   "n": uint(public.n), "e": uint(public.e)}]})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path != "/token":
            return self.reply(404, {"error": "not_found"})
        auth = self.headers.get("Authorization", "")
        try:
            client, secret = base64.b64decode(auth.split(" ", 1)[1]).decode().split(":", 1)
        except Exception:
            return self.reply(401, {"error": "invalid_client"})
        if secret != SECRET:
            return self.reply(401, {"error": "invalid_client", "error_description": "bad client secret"})
        if client.startswith("expired-"):
            access = token(client, KEY, -3600)
        elif client.startswith("forged-"):
            access = token(client, OTHER_KEY, 3600)
        else:
            access = token(client, KEY, 3600)
        self.reply(200, {"access_token": access, "token_type": "Bearer", "expires_in": 3600})

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"PORT {server.server_address[1]}", flush=True)
sys.stdin.read()
