"""The pysaml2 IdP the test peers play (slo.py, verify_request.py): this IdP's entity ID,
key and certificate, and the SP metadata the IdP admin imported, with `idp_service` as
the IdP's service settings (endpoints, what it insists is signed)."""

import warnings

warnings.filterwarnings("ignore")  # pysaml2 imports deprecated cryptography names

from saml2.config import IdPConfig  # noqa: E402
from saml2.server import Server  # noqa: E402

XMLSEC = "/usr/bin/xmlsec1"


def idp_server(args, idp_service):
    """args carries sp_metadata (a file), idp_entity_id, idp_key and idp_cert."""
    with open(args.sp_metadata, encoding="utf-8") as f:
        sp_metadata = f.read()
    conf = IdPConfig()
    conf.load(
        {
            "entityid": args.idp_entity_id,
            "key_file": args.idp_key,
            "cert_file": args.idp_cert,
            "xmlsec_binary": XMLSEC,
            "metadata": {"inline": [sp_metadata]},
            "service": {"idp": idp_service},
        }
    )
    return Server(config=conf)
