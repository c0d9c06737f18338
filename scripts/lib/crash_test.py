#!/usr/bin/env python3
"""Nothing acknowledged is lost (issue 19.3): kill -9 under SCIM create load, restart, check.

Starts the release server on a fresh database, drives POST /Users with 16 clients, and
while they run saves a SAML connection, rotates the SCIM token and issues a host app an
access token. Right after the last of those is acknowledged the server is killed with
SIGKILL. It is started again on the same database, and every user answered with 201,
the saved connection, the new SCIM token and the access token must be there and work.

    crash_test.py BIN DATABASE_URL      (scripts/crash-test runs it on both databases)

Only the standard library: the clients are threads on persistent HTTP connections.
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

CLIENTS = 16
LOAD_BEFORE_CHANGES = 2.0  # seconds of create load before the changes and the kill
PASSWORD = "crash test password 1"
ENTITY_ID = "http://idp.crash.test/saml"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IDP_CERT = os.path.join(ROOT, "server/tests/fixtures/saml/keys/idp.crt")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, env, log):
        self.binary, self.env, self.log = binary, env, log
        self.process = None

    def cli(self, *args, stdin=None):
        done = subprocess.run(
            [self.binary, *args], env=self.env, input=stdin, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"latchkey {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "serve"], env=self.env, stdout=self.log, stderr=self.log
        )
        for _ in range(200):
            try:
                if request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("the server did not start; see its log")

    def kill(self):
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


PORT = free_port()


def request(method, path, body=None, headers=None, connection=None):
    conn = connection or http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response.getheaders()
    finally:
        if connection is None:
            conn.close()


class Load:
    """CLIENTS threads creating users until the server goes away."""

    def __init__(self, base_path, token):
        self.base_path, self.token = base_path, token
        self.acknowledged = []  # (id, userName) answered 201
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(CLIENTS)
        ]

    def start(self):
        for thread in self.threads:
            thread.start()

    def join(self):
        for thread in self.threads:
            thread.join(timeout=60)

    def client(self, n):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/scim+json",
        }
        i = 0
        while True:
            user_name = f"c{n}-u{i}@crash.test"
            body = json.dumps(
                {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "name": {"givenName": "Crash", "familyName": f"Test {n}-{i}"},
                    "emails": [{"value": user_name, "primary": True}],
                    "active": True,
                }
            )
            try:
                status, data, _ = request("POST", f"{self.base_path}/Users", body, headers, conn)
            except (OSError, http.client.HTTPException):
                return  # the server was killed
            if status != 201:
                raise SystemExit(f"POST /Users answered {status}: {data[:300]!r}")
            with self.lock:
                self.acknowledged.append((json.loads(data)["id"], user_name))
            i += 1


class Admin:
    """The Integrations Admin's browser: a session cookie and server functions."""

    def __init__(self, email):
        form = urllib.parse.urlencode({"email": email, "password": PASSWORD})
        status, data, headers = request(
            "POST",
            "/api/login",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
        )
        if status != 200:
            raise SystemExit(f"admin sign-in answered {status}: {data[:300]!r}")
        cookies = [v.split(";")[0] for k, v in headers if k.lower() == "set-cookie"]
        self.cookie = "; ".join(cookies)

    def call(self, function, arguments):
        status, data, _ = request(
            "POST",
            f"/api/{function}",
            json.dumps(arguments),
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Cookie": self.cookie,
                "Sec-Fetch-Site": "same-origin",
            },
        )
        if status != 200:
            raise SystemExit(f"{function} answered {status}: {data[:300]!r}")
        return json.loads(data)


def changes_just_before_the_kill(admin, app):
    """A connection saved, a SCIM token rotated and an access token issued."""
    created = admin.call(
        "create_connection",
        {"new": {"protocol": "saml", "provider": "okta", "display_name": "Crash"}},
    )
    connection = created["summary"]["id"]
    with open(IDP_CERT) as f:
        certificate = f.read()
    admin.call(
        "save_saml_connection",
        {
            "id": connection,
            "form": {
                "provider": "okta",
                "display_name": "Crash",
                "sso_url": "https://idp.crash.test/sso",
                "entity_id": ENTITY_ID,
                "certificates_pem": certificate,
                "mapping": created["saml"]["mapping"],
            },
        },
    )
    rotated = admin.call("rotate_scim_token", {})["token"]
    basic = f"{app['client_id']}:{app['client_secret']}".encode()
    status, data, _ = request(
        "POST",
        "/oauth2/token",
        urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "directory"}),
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(basic).decode(),
        },
    )
    if status != 200:
        raise SystemExit(f"/oauth2/token answered {status}: {data[:300]!r}")
    return connection, rotated, json.loads(data)["access_token"]


def check_after_restart(base_path, acknowledged, admin, connection, scim_token, access_token):
    problems = []
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    headers = {"Authorization": f"Bearer {scim_token}"}
    for user_id, user_name in acknowledged:
        status, data, _ = request("GET", f"{base_path}/Users/{user_id}", None, headers, conn)
        if status != 200 or json.loads(data).get("userName") != user_name:
            problems.append(f"user {user_name} ({user_id}): {status} {data[:200]!r}")
    saved = admin.call("get_connection", {"id": connection})
    if (saved.get("saml") or {}).get("entity_id") != ENTITY_ID:
        problems.append(f"the saved connection lost its entity ID: {saved.get('saml')}")
    status, data, _ = request(
        "GET",
        "/api/v1/organizations/crash/users",
        None,
        {"Authorization": f"Bearer {access_token}"},
    )
    if status != 200:
        problems.append(f"the access token issued before the kill: {status} {data[:200]!r}")
    return problems


def main():
    binary, database_url = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="latchkey-crash-")
    env = dict(
        os.environ,
        LATCHKEY_DATABASE_URL=database_url,
        LATCHKEY_DATA_DIR=work,
        LATCHKEY_LISTEN=f"127.0.0.1:{PORT}",
        LATCHKEY_PUBLIC_URL=f"http://127.0.0.1:{PORT}",
        RUST_LOG="warn",
    )
    log = open(os.path.join(work, "server.log"), "ab")
    server = Server(binary, env, log)
    try:
        server.cli("migrate")
        server.cli("create-org", "--slug", "crash", "--name", "Crash Inc.")
        server.cli(
            "create-user", "--org", "crash", "--email", "admin@crash.test",
            "--role", "integrations-admin", "--password-stdin", stdin=PASSWORD + "\n",
        )
        scim = server.cli("enable-scim", "--org", "crash", "--provider", "okta")
        fields = dict(line.split(": ", 1) for line in scim.splitlines() if ": " in line)
        base_path = urllib.parse.urlsplit(fields["SCIM Base URL"].strip()).path.rstrip("/")
        app = json.loads(
            server.cli("create-app", "--name", "Crash", "--redirect-uri", "https://app.crash.test/cb")
        )

        server.start()
        admin = Admin("admin@crash.test")
        load = Load(base_path, fields["Bearer Token"].strip())
        load.start()
        time.sleep(LOAD_BEFORE_CHANGES)
        connection, scim_token, access_token = changes_just_before_the_kill(admin, app)
        server.kill()
        load.join()
        acknowledged = list(load.acknowledged)

        server.start()
        problems = check_after_restart(
            base_path, acknowledged, admin, connection, scim_token, access_token
        )
    except SystemExit:
        log.flush()
        print(f"server log: {os.path.join(work, 'server.log')}", file=sys.stderr)
        raise
    finally:
        server.stop()
    if problems:
        print(f"{len(problems)} acknowledged changes lost after kill -9:", file=sys.stderr)
        for problem in problems[:20]:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"kill -9 under load by {CLIENTS} SCIM clients: all {len(acknowledged)} users answered "
        "201 are there after the restart; so are the SAML connection saved, the SCIM token "
        "rotated and the access token issued just before the kill"
    )


if __name__ == "__main__":
    main()
