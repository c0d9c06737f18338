#!/usr/bin/env python3
"""Receives an SP-initiated sign-in as a pysaml2 IdP does: reads the AuthnRequest from
the redirect URL Latchkey sent the browser to and, with want_authn_requests_signed,
verifies its HTTP-Redirect signature against the signing certificate in the SP metadata
the IdP admin imported. Nothing here checks a signature by hand.

Usage (the Rust test runs this):

    python server/tests/saml/verify_request.py --sp-metadata FILE --idp-entity-id ID \
        --idp-key K/idp.key --idp-cert K/idp.crt --url REDIRECT_URL

It prints ONE JSON object: {"ok": true, "id": ..., "issuer": ..., "acs_url": ...}
or {"ok": false, "error": "..."}.
"""

import argparse
import json
import sys
import warnings
from urllib.parse import parse_qs, urlsplit

warnings.filterwarnings("ignore")  # pysaml2 imports deprecated cryptography names

from saml2 import BINDING_HTTP_REDIRECT  # noqa: E402
import idp_config  # noqa: E402  (beside this script)



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sp-metadata", required=True)
    parser.add_argument("--idp-entity-id", required=True)
    parser.add_argument("--idp-key", required=True)
    parser.add_argument("--idp-cert", required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args(argv)
    url = urlsplit(args.url)
    server = idp_config.idp_server(
        args,
        {
            "want_authn_requests_signed": True,
            "endpoints": {
                "single_sign_on_service": [
                    (f"{url.scheme}://{url.netloc}{url.path}", BINDING_HTTP_REDIRECT)
                ]
            },
        },
    )
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    try:
        request = server.parse_authn_request(
            query["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=query.get("RelayState"),
            sigalg=query.get("SigAlg"),
            signature=query.get("Signature"),
        )
        message = request.message
        result = {
            "ok": True,
            "id": message.id,
            "issuer": message.issuer.text,
            "acs_url": message.assertion_consumer_service_url,
        }
    except Exception as error:  # the refusal is the answer
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
