#!/usr/bin/env python3
"""Plays the IdP side of SAML Single Logout as a pysaml2 IdP does, against the SP metadata
the IdP admin imported. pysaml2 (and /usr/bin/xmlsec1) build, sign and verify every message,
with RSA-SHA256 and SHA-256 digests; nothing here checks or computes a signature by hand.

Usage (the Rust test runs this; every subcommand takes the common options):

    python server/tests/saml/slo.py SUBCOMMAND --sp-metadata FILE --idp-entity-id ID \
        --idp-key K/idp.key --idp-cert K/idp.crt [--idp-slo-url URL] ...

  receive-request --url URL [--respond success|partial|none]
      URL is where the SP sent the browser: the IdP's SLO URL with SAMLRequest, RelayState,
      SigAlg, Signature (HTTP-Redirect). The query signature MUST verify against a signing
      certificate of the Issuer in the SP metadata. Prints {"ok": true, "id", "issuer",
      "destination", "name_id", "name_id_format", "session_indexes": [...], "relay_state",
      "sig_alg"} and, unless --respond none, "response_url": the SP's HTTP-Redirect
      SingleLogoutService with a query-signed LogoutResponse InResponseTo the request and the
      same RelayState. Its status is Success, or for `partial` Success with the second-level
      StatusCode PartialLogout (SAML core 3.2.2.2).
  send-request --name-id X [--name-id-format F] [--session-index S] --binding redirect|post
               [--unsigned] [--issuer OTHER] [--relay-state R] [--sig-alg rsa-sha1]
               [--destination-attr OTHER]
      An IdP-initiated LogoutRequest to the SP's SingleLogoutService of that binding; signed
      unless --unsigned (redirect: query signature; post: enveloped XML signature). No
      --name-id-format means a NameID without Format. --issuer replaces the Issuer before
      signing (attack case); --sig-alg rsa-sha1 signs the query with SHA-1 and
      --destination-attr names another Destination (attack cases). Prints {"ok": true, "id", "url"} for redirect and
      {"ok": true, "id", "action", "SAMLRequest", "RelayState": R or null} for post.
  read-response (--url URL | --post-body FORMBODY)
      The SP's LogoutResponse as the browser brings it back: the redirect URL, or the
      application/x-www-form-urlencoded POST body. Its signature (query signature, or an
      enveloped XML signature for POST) MUST verify against the SP metadata. Prints
      {"ok": true, "id", "in_response_to", "issuer", "destination", "status", "sub_status"}
      (status codes are URIs; sub_status is null without a second-level code).

Any refusal or failure prints {"ok": false, "error": "..."}; exactly ONE JSON object is
printed on stdout either way.
"""

import argparse
import base64
import json
import sys
import time
import warnings
from urllib.parse import parse_qs, urlsplit

warnings.filterwarnings("ignore")  # pysaml2 imports deprecated cryptography names

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp  # noqa: E402
from saml2.response import LogoutResponse, StatusError  # noqa: E402
from saml2.saml import NAMEID_FORMAT_ENTITY, Issuer, NameID  # noqa: E402
from saml2.sigver import verify_redirect_signature  # noqa: E402
from saml2 import time_util  # noqa: E402
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256  # noqa: E402
import idp_config  # noqa: E402  (beside this script)

BINDINGS = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}


class Refused(Exception):
    pass


def idp_server(args):
    return idp_config.idp_server(
        args,
        {
            # pysaml2 reads this flag for every request it parses, LogoutRequest
            # included: with it, an unsigned or badly signed one is refused.
            "want_authn_requests_signed": True,
            "logout_requests_signed": True,
            "logout_responses_signed": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "endpoints": {
                "single_logout_service": [
                    (args.idp_slo_url, BINDING_HTTP_REDIRECT),
                    (args.idp_slo_url, BINDING_HTTP_POST),
                ]
            },
        },
    )


def single_query(query_string):
    """The query as {name: value}; a parameter given twice is refused."""
    query = parse_qs(query_string)
    doubled = [k for k, v in query.items() if len(v) > 1]
    if doubled:
        raise Refused(f"parameter repeated: {doubled}")
    return {k: v[0] for k, v in query.items()}


def redirect_location(http_args):
    return dict(http_args["headers"])["Location"]


def issued_recently(message):
    """pysaml2 computes this (IssueInstant within a day) but never acts on it."""
    upper = time_util.time_in_a_while(days=1).timetuple()
    lower = time_util.time_a_while_ago(days=1).timetuple()
    return lower < time_util.str_to_time(message.issue_instant) < upper


def receive_request(server, args):
    query = single_query(urlsplit(args.url).query)
    if "SAMLRequest" not in query:
        raise Refused("no SAMLRequest in the URL")
    relay_state = query.get("RelayState")
    # Verifies the query signature (SAMLRequest, RelayState, SigAlg re-encoded by
    # urllib.parse.urlencode, in that order) against the Issuer's metadata signing certs,
    # and checks Destination, if present, against our single_logout_service endpoints.
    request = server.parse_logout_request(
        query["SAMLRequest"],
        BINDING_HTTP_REDIRECT,
        relay_state=relay_state,
        sigalg=query.get("SigAlg"),
        signature=query.get("Signature"),
    )
    message = request.message
    if not issued_recently(message):
        raise Refused(f"IssueInstant out of range: {message.issue_instant}")
    if message.not_on_or_after and time_util.str_to_time(message.not_on_or_after) < time.gmtime():
        raise Refused(f"LogoutRequest expired at {message.not_on_or_after}")
    name_id = message.name_id
    result = {
        "ok": True,
        "id": message.id,
        "issuer": message.issuer.text.strip(),
        "destination": message.destination,
        "name_id": name_id.text if name_id is not None else None,
        "name_id_format": name_id.format if name_id is not None else None,
        "session_indexes": [si.text for si in message.session_index],
        "relay_state": relay_state,
        "sig_alg": query.get("SigAlg"),
    }
    if args.respond != "none":
        status = samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS))
        if args.respond == "partial":
            status.status_code.status_code = samlp.StatusCode(value=samlp.STATUS_PARTIAL_LOGOUT)
        # Destination = the first HTTP-Redirect SingleLogoutService Location of the SP.
        response = server.create_logout_response(
            message, bindings=[BINDING_HTTP_REDIRECT], status=status, sign=False
        )
        http_args = server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            response.destination,
            relay_state or "",
            response=True,
            sign=True,
            sigalg=SIG_RSA_SHA256,
        )
        result["response_url"] = redirect_location(http_args)
    return result


def sp_entity_id(server):
    entities = list(server.metadata.with_descriptor("spsso"))
    if len(entities) != 1:
        raise Refused(f"expected one SP in the metadata, found {entities}")
    return entities[0]


def send_request(server, args):
    binding = BINDINGS[args.binding]
    sp = sp_entity_id(server)
    services = server.metadata.single_logout_service(sp, binding, "spsso")
    if not services:
        raise Refused(f"the SP metadata has no SingleLogoutService for {binding}")
    destination = services[0]["location"]
    name_id = NameID(text=args.name_id, format=args.name_id_format)
    request_id, request = server.create_logout_request(
        destination,
        sp,
        name_id=name_id,
        session_indexes=[args.session_index] if args.session_index else None,
        sign=False,
    )
    if args.issuer:
        request.issuer = Issuer(text=args.issuer, format=NAMEID_FORMAT_ENTITY)
    if args.destination_attr:
        request.destination = args.destination_attr
    sign = not args.unsigned
    if binding == BINDING_HTTP_REDIRECT:
        sigalg = SIG_RSA_SHA1 if args.sig_alg == "rsa-sha1" else SIG_RSA_SHA256
        http_args = server.apply_binding(
            binding, str(request), destination, args.relay_state or "",
            sign=sign, sigalg=sigalg,
        )
        return {"ok": True, "id": request_id, "url": redirect_location(http_args)}
    if sign:  # enveloped XML signature, Reference "#<ID>", exclusive c14n
        xml = server.sign(request, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    else:
        xml = str(request)
    return {
        "ok": True,
        "id": request_id,
        "action": destination,
        # HTTP-POST binding: plain base64 of the XML, no DEFLATE.
        "SAMLRequest": base64.b64encode(xml.encode("utf-8")).decode("ascii"),
        "RelayState": args.relay_state,
    }


def read_response(server, args):
    if args.url:
        binding, fields = BINDING_HTTP_REDIRECT, single_query(urlsplit(args.url).query)
    else:
        binding, fields = BINDING_HTTP_POST, single_query(args.post_body)
    if "SAMLResponse" not in fields:
        raise Refused("no SAMLResponse")
    xml = server.unravel(fields["SAMLResponse"], binding, LogoutResponse.msgtype)
    if binding == BINDING_HTTP_REDIRECT:
        # pysaml2's parse_logout_request_response takes no SigAlg/Signature, so this is
        # the check pysaml2 runs for a redirect LogoutRequest, on the response.
        if "SigAlg" not in fields or "Signature" not in fields:
            raise Refused("LogoutResponse not signed (no SigAlg/Signature)")
        unverified = samlp.logout_response_from_string(xml)
        if unverified is None or unverified.issuer is None:
            raise Refused("not a LogoutResponse with an Issuer")
        certs = server.metadata.certs(unverified.issuer.text.strip(), "any", "signing")
        if not any(verify_redirect_signature(fields, server.sec.sec_backend, c) for _, c in certs):
            raise Refused("LogoutResponse query signature does not verify")
    else:
        # Enveloped signature checked against the Issuer's metadata signing certs only.
        server.sec.correctly_signed_logout_response(xml, must=True)
    return_addrs = server.config.endpoint("single_logout_service", binding, "idp")
    response = LogoutResponse(server.sec, return_addrs=return_addrs)
    response.loads(xml, False, origxml=xml)  # schema validation (and any XML signature)
    if response.response is None:
        raise Refused("LogoutResponse not schema-valid")
    try:
        # Destination (if present) among our SLO endpoints, version, IssueInstant within a
        # day; pysaml2 then raises StatusError for a non-Success status, which we report.
        valid = response.verify()
    except StatusError:
        valid = True
    if not valid:
        raise Refused("LogoutResponse refused: Destination or IssueInstant")
    message = response.response
    code = message.status.status_code
    return {
        "ok": True,
        "id": message.id,
        "in_response_to": message.in_response_to,
        "issuer": message.issuer.text.strip(),
        "destination": message.destination,
        "status": code.value,
        "sub_status": code.status_code.value if code.status_code is not None else None,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--sp-metadata", required=True)
    common.add_argument("--idp-entity-id", required=True)
    common.add_argument("--idp-key", required=True)
    common.add_argument("--idp-cert", required=True)
    common.add_argument("--idp-slo-url", default="http://idp.test/slo")
    commands = parser.add_subparsers(dest="command", required=True)
    receive = commands.add_parser("receive-request", parents=[common])
    receive.add_argument("--url", required=True)
    receive.add_argument("--respond", choices=["success", "partial", "none"], default="success")
    send = commands.add_parser("send-request", parents=[common])
    send.add_argument("--name-id", required=True)
    send.add_argument("--name-id-format")
    send.add_argument("--session-index")
    send.add_argument("--binding", choices=sorted(BINDINGS), required=True)
    send.add_argument("--unsigned", action="store_true")
    send.add_argument("--issuer")
    send.add_argument("--relay-state")
    # Attack cases: a weak query-signature algorithm; a Destination naming another SP.
    send.add_argument("--sig-alg", choices=["rsa-sha256", "rsa-sha1"], default="rsa-sha256")
    send.add_argument("--destination-attr")
    read = commands.add_parser("read-response", parents=[common])
    source = read.add_mutually_exclusive_group(required=True)
    source.add_argument("--url")
    source.add_argument("--post-body")
    args = parser.parse_args(argv)
    handler = {
        "receive-request": receive_request,
        "send-request": send_request,
        "read-response": read_response,
    }[args.command]
    try:
        result = handler(idp_server(args), args)
    except Exception as error:  # the refusal is the answer
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
