#!/usr/bin/env python3
"""A SAML 2.0 identity provider for the browser tests, built on pysaml2.

pysaml2 parses the AuthnRequests and builds and signs every Response (RSA-SHA256,
SHA-256 digests, via /usr/bin/xmlsec1); this file is only the web front of a pretend
IdP admin console with one "app" per SP connection, configured by the tests over JSON.

Usage: python peers/saml-idp.py [port]   (default $SAML_IDP_PORT or 3302; loopback only)
Requirements: end2end/peers/requirements.txt. Keys: end2end/fixtures/saml-idp/.

Control API (the test plays the IdP admin):
  PUT /apps/{app}        {"acs_url", "audience", "shape": "okta"|"entra",
                          "sign": "response"|"assertion"|"both"|"none",
                          "key": "main"|"other", "omit_attributes": [...],
                          "recipient_url" (optional: Destination and Recipient, when
                          they should differ from acs_url, like Okta's Recipient URL),
                          "name_id_format": "email"|"persistent"}          -> 204
                         acs_url and audience are required; defaults: okta, both, main,
                         [], email for okta / persistent for entra. The IdP posts to ITS
                         acs_url and puts it in Destination and Recipient, whatever the
                         AuthnRequest asked for; audience goes in the Audience.
  PUT /users/{email}     {"first_name", "last_name"}                       -> 204
  GET /health                                                               -> 200
IdP side:
  GET  /apps/{app}/metadata   IdP metadata: entityID http://127.0.0.1:PORT/apps/{app},
                              HTTP-Redirect SSO at .../apps/{app}/sso, the main certificate
  GET  /apps/{app}/sso?SAMLRequest=&RelayState=   sign-in page "Test IdP sign-in"
  POST /apps/{app}/login      (username, request_id, relay_state) -> auto-posting page,
                              or 401 "Unknown user"
  GET  /apps/{app}/initiate?user=EMAIL   IdP-initiated: the same auto-posting page,
                              no InResponseTo, empty RelayState
"""

import base64
import hashlib
import html
import json
import os
import sys
import threading
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

warnings.filterwarnings("ignore")  # pysaml2 imports deprecated cryptography names

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.attribute_converter import AttributeConverter  # noqa: E402
from saml2.config import IdPConfig, SPConfig  # noqa: E402
from saml2.metadata import entity_descriptor  # noqa: E402
from saml2.s_utils import do_ava, factory  # noqa: E402
from saml2.saml import (  # noqa: E402
    NAME_FORMAT_UNSPECIFIED,
    NAMEID_FORMAT_EMAILADDRESS,
    NAMEID_FORMAT_PERSISTENT,
    Attribute,
    NameID,
)
from saml2.server import Server  # noqa: E402
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "..", "fixtures", "saml-idp")
KEY_FILES = {
    "main": (os.path.join(KEYS, "idp.key"), os.path.join(KEYS, "idp.crt")),
    "other": (os.path.join(KEYS, "other.key"), os.path.join(KEYS, "other.crt")),
}
XMLSEC = "/usr/bin/xmlsec1"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MS_CLAIMS = "http://schemas.microsoft.com/identity/claims/"
ENTRA_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
OKTA_TO_ENTRA = {
    "email": CLAIMS + "emailaddress",
    "firstName": CLAIMS + "givenname",
    "lastName": CLAIMS + "surname",
}

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("SAML_IDP_PORT", "3302"))
BASE = f"http://127.0.0.1:{PORT}"

LOCK = threading.Lock()
APPS = {}
USERS = {}


class AsIsConverter(AttributeConverter):
    """Emits attributes under their own names: NameFormat unspecified (Okta) or none (Entra)."""

    def __init__(self, emit_format):
        super().__init__(NAME_FORMAT_UNSPECIFIED)
        self.emit_format = emit_format
        self._to = {}
        self._fro = {}

    def to_(self, attrvals):
        return [
            factory(
                Attribute,
                name=name,
                name_format=self.name_format if self.emit_format else None,
                attribute_value=do_ava(values),
            )
            for name, values in attrvals.items()
        ]


def entity_id(app):
    return f"{BASE}/apps/{app}"


def idp_config(app, key, sp_metadata=None):
    key_file, cert_file = KEY_FILES[key]
    conf = IdPConfig()
    settings = {
        "entityid": entity_id(app),
        "key_file": key_file,
        "cert_file": cert_file,
        "xmlsec_binary": XMLSEC,
        "service": {
            "idp": {
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
                "endpoints": {
                    "single_sign_on_service": [(f"{entity_id(app)}/sso", BINDING_HTTP_REDIRECT)]
                },
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT],
                "policy": {
                    "default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_UNSPECIFIED}
                },
            }
        },
    }
    if sp_metadata:
        settings["metadata"] = {"inline": [sp_metadata]}
    conf.load(settings)
    return conf


def sp_metadata(audience, acs_url):
    """The SP as the admin registered it in this IdP, as metadata made by pysaml2."""
    conf = SPConfig()
    conf.load(
        {
            "entityid": audience,
            "xmlsec_binary": XMLSEC,
            "service": {
                "sp": {"endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]}}
            },
        }
    )
    return entity_descriptor(conf).to_string().decode()


def idp_server(app, settings):
    server = Server(
        config=idp_config(app, settings["key"], sp_metadata(settings["audience"], settings["acs_url"]))
    )
    server.config.attribute_converters = [AsIsConverter(emit_format=settings["shape"] == "okta")]
    return server


def opaque_id(email):
    digest = hashlib.sha256(("latchkey-test:" + email).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def identity(settings, email, user):
    first, last = user.get("first_name", ""), user.get("last_name", "")
    if settings["shape"] == "okta":
        attrs = {"email": [email], "firstName": [first], "lastName": [last]}
    else:
        attrs = {
            CLAIMS + "emailaddress": [email],
            CLAIMS + "givenname": [first],
            CLAIMS + "surname": [last],
            CLAIMS + "name": [email],
            MS_CLAIMS + "objectidentifier": [str(uuid.uuid5(uuid.NAMESPACE_URL, "mailto:" + email))],
            MS_CLAIMS + "tenantid": [ENTRA_TENANT],
        }
    for name in settings["omit_attributes"]:
        attrs.pop(name, None)
        attrs.pop(OKTA_TO_ENTRA.get(name, name), None)
    return attrs


def saml_response(app, settings, email, user, in_response_to):
    """A signed SAMLResponse (base64) from pysaml2 for this app's configuration."""
    server = idp_server(app, settings)
    if settings["name_id_format"] == "email":
        name_id = NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email)
    else:
        name_id = NameID(
            format=NAMEID_FORMAT_PERSISTENT, sp_name_qualifier=settings["audience"], text=opaque_id(email)
        )
    sign = settings["sign"]
    xml = server.create_authn_response(
        identity(settings, email, user),
        in_response_to,
        # Like Okta's advanced "Recipient URL": may differ from where the form posts.
        settings["recipient_url"] or settings["acs_url"],
        settings["audience"],
        name_id=name_id,
        authn={"class_ref": PASSWORD_PROTECTED, "authn_auth": entity_id(app)},
        sign_response=sign in ("response", "both"),
        sign_assertion=sign in ("assertion", "both"),
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    if not isinstance(xml, str):
        xml = xml.to_string().decode()
    return base64.b64encode(xml.encode()).decode("ascii")


# ---------------------------------------------------------------------------------------
# Pages


def page(title, body):
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"
    )


def sign_in_page(app, request_id, relay_state, error=""):
    e = html.escape
    return page(
        "Test IdP sign-in",
        f"<h1>Test IdP sign-in</h1>\n<p>App: {e(app)}</p>\n"
        + (f'<p role="alert">{e(error)}</p>\n' if error else "")
        + f'<form method="post" action="/apps/{e(app)}/login">\n'
        '  <label for="username">Username</label>\n'
        '  <input type="text" id="username" name="username" autocomplete="username">\n'
        f'  <input type="hidden" name="request_id" value="{e(request_id)}">\n'
        f'  <input type="hidden" name="relay_state" value="{e(relay_state)}">\n'
        '  <button type="submit">Sign in to IdP</button>\n'
        "</form>",
    )


def post_page(acs_url, saml_response_b64, relay_state):
    e = html.escape
    return page(
        "Test IdP: signing you in",
        f'<form method="post" action="{e(acs_url)}">\n'
        f'  <input type="hidden" name="SAMLResponse" value="{e(saml_response_b64)}">\n'
        f'  <input type="hidden" name="RelayState" value="{e(relay_state)}">\n'
        "  <p>Signing you in to the application.</p>\n"
        '  <button type="submit">Continue</button>\n'
        "</form>\n"
        "<script>window.addEventListener('load', function () { document.forms[0].submit(); });</script>",
    )


# ---------------------------------------------------------------------------------------
# Control API validation

SHAPES = ("okta", "entra")
SIGNS = ("response", "assertion", "both", "none")


def app_settings(body):
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    for field in ("acs_url", "audience"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise ValueError(f"{field} is required")
    settings = {
        "acs_url": body["acs_url"],
        "audience": body["audience"],
        "shape": body.get("shape", "okta"),
        "sign": body.get("sign", "both"),
        "key": body.get("key", "main"),
        "omit_attributes": body.get("omit_attributes", []),
        "recipient_url": body.get("recipient_url", ""),
    }
    if settings["shape"] not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}")
    if settings["sign"] not in SIGNS:
        raise ValueError(f"sign must be one of {SIGNS}")
    if settings["key"] not in KEY_FILES:
        raise ValueError("key must be main or other")
    if not isinstance(settings["omit_attributes"], list):
        raise ValueError("omit_attributes must be a list")
    default_format = "email" if settings["shape"] == "okta" else "persistent"
    settings["name_id_format"] = body.get("name_id_format", default_format)
    if settings["name_id_format"] not in ("email", "persistent"):
        raise ValueError("name_id_format must be email or persistent")
    unknown = set(body) - set(settings)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    return settings


class Handler(BaseHTTPRequestHandler):
    server_version = "LatchkeyTestIdP/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("saml-idp: " + (fmt % args) + "\n")

    # -- helpers

    def send(self, status, body=b"", content_type="text/html; charset=utf-8"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if status != 204:
            self.wfile.write(body)

    def error_page(self, status, message):
        self.send(status, page(message, f"<h1>{html.escape(message)}</h1>"))

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def route(self):
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        return parts, parse_qs(url.query, keep_blank_values=True)

    def app(self, name):
        with LOCK:
            return APPS.get(name)

    # -- verbs

    def do_GET(self):
        try:
            parts, query = self.route()
            if parts == ["health"]:
                return self.send(200, "ok\n", "text/plain; charset=utf-8")
            if len(parts) == 3 and parts[0] == "apps":
                app, action = parts[1], parts[2]
                if action == "metadata":
                    return self.metadata(app)
                if action == "sso":
                    return self.sso(app, query)
                if action == "initiate":
                    return self.initiate(app, query)
            self.error_page(404, "Not found")
        except Exception as exc:  # a test peer: show what broke
            self.error_page(500, f"Test IdP error: {type(exc).__name__}: {exc}")

    def do_PUT(self):
        try:
            parts, _ = self.route()
            try:
                body = json.loads(self.read_body() or b"null")
            except ValueError:
                return self.send(400, "body must be JSON\n", "text/plain; charset=utf-8")
            if len(parts) == 2 and parts[0] == "apps":
                try:
                    settings = app_settings(body)
                except ValueError as exc:
                    return self.send(400, f"{exc}\n", "text/plain; charset=utf-8")
                with LOCK:
                    APPS[parts[1]] = settings
                return self.send(204)
            if len(parts) == 2 and parts[0] == "users":
                if not isinstance(body, dict):
                    return self.send(400, "body must be a JSON object\n", "text/plain; charset=utf-8")
                with LOCK:
                    USERS[parts[1].lower()] = {
                        "first_name": str(body.get("first_name", "")),
                        "last_name": str(body.get("last_name", "")),
                    }
                return self.send(204)
            self.error_page(404, "Not found")
        except Exception as exc:
            self.error_page(500, f"Test IdP error: {type(exc).__name__}: {exc}")

    def do_POST(self):
        try:
            parts, _ = self.route()
            if len(parts) == 3 and parts[0] == "apps" and parts[2] == "login":
                form = parse_qs(self.read_body().decode(), keep_blank_values=True)
                return self.login(parts[1], {k: v[0] for k, v in form.items()})
            self.error_page(404, "Not found")
        except Exception as exc:
            self.error_page(500, f"Test IdP error: {type(exc).__name__}: {exc}")

    # -- IdP endpoints

    def metadata(self, app):
        descriptor = entity_descriptor(idp_config(app, "main"))
        # pysaml2 lists every algorithm xmlsec1 knows (md5 included); real IdPs don't.
        descriptor.extensions = None
        xml = descriptor.to_string()
        self.send(200, xml, "application/samlmetadata+xml")

    def sso(self, app, query):
        settings = self.app(app)
        if settings is None:
            return self.error_page(404, "Unknown app")
        saml_request = (query.get("SAMLRequest") or [""])[0]
        relay_state = (query.get("RelayState") or [""])[0]
        if not saml_request:
            return self.error_page(400, "Missing SAMLRequest")
        try:
            request = idp_server(app, settings).parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        except Exception as exc:
            return self.error_page(400, f"Bad SAMLRequest: {type(exc).__name__}: {exc}")
        if request is None or request.message is None:
            return self.error_page(400, "Bad SAMLRequest")
        self.send(200, sign_in_page(app, request.message.id, relay_state))

    def login(self, app, form):
        settings = self.app(app)
        if settings is None:
            return self.error_page(404, "Unknown app")
        email = form.get("username", "").strip().lower()
        with LOCK:
            user = USERS.get(email)
        if user is None:
            return self.error_page(401, "Unknown user")
        request_id = form.get("request_id") or None
        response = saml_response(app, settings, email, user, request_id)
        self.send(200, post_page(settings["acs_url"], response, form.get("relay_state", "")))

    def initiate(self, app, query):
        settings = self.app(app)
        if settings is None:
            return self.error_page(404, "Unknown app")
        email = (query.get("user") or [""])[0].strip().lower()
        with LOCK:
            user = USERS.get(email)
        if user is None:
            return self.error_page(401, "Unknown user")
        response = saml_response(app, settings, email, user, None)
        self.send(200, post_page(settings["acs_url"], response, ""))


def main():
    httpd = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    httpd.daemon_threads = True
    print(f"saml-idp listening at {BASE}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
