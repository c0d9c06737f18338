#!/usr/bin/env python3
"""Forges fresh SAML responses, honest and hostile, for the Rust ACS table test.

Every response is built and signed by pysaml2 (saml2.server.Server.create_authn_response
and Entity.sign, which run /usr/bin/xmlsec1 with RSA-SHA256 and SHA-256 digests); this
script only picks the knobs of the IdP and, for the attack cases, rewrites the signed XML
afterwards with lxml. Nothing here implements SAML or XML signatures by hand.

Usage (the Rust test runs this; requirements in end2end/peers/requirements.txt):

    python server/tests/saml/forge.py --cases server/tests/fixtures/saml/cases \
        --idp-key K/idp.key --idp-cert K/idp.crt \
        --attacker-key K/attacker.key --attacker-cert K/attacker.crt \
        [--expired-key K/expired.key --expired-cert K/expired.crt] \
        --idp-entity-id http://idp.test/okta --sp-entity-id SP --acs-url URL \
        --request-id-prefix _req- [--in-response-to ID] [--out DIR] [--only CASE ...]

with K = server/tests/fixtures/saml/keys (the expired pair defaults to expired.key/.crt
beside --idp-key). It prints ONE JSON object, {"<case>": "<base64 SAMLResponse>", ...},
where <case> is the case file name without ".json". With --out DIR it also writes each
decoded response as DIR/<case>.xml (garbage_xml as DIR/garbage_xml.bin).

Each run is fresh: new IDs, IssueInstant = now, Conditions NotBefore = now-60s,
Conditions and SubjectConfirmationData NotOnOrAfter = now+300s, unless a case says otherwise.

Case files (one JSON object per file in the cases folder):
  description   one line, what the case is about
  expect        "ok", "ok_comment_safe" or the diagnosis code the ACS must report
  shape         "okta":  NameID emailAddress = email; attributes email, firstName, lastName
                         with NameFormat ...:attrname-format:unspecified
                "entra": NameID persistent (opaque, stable per email); attributes, no
                         NameFormat, named http://schemas.xmlsoap.org/ws/2005/05/identity/
                         claims/{emailaddress,givenname,surname,name} and
                         http://schemas.microsoft.com/identity/claims/{objectidentifier,tenantid}
  sign          "response" | "assertion" | "both" | "none"
  key           "idp" | "attacker" | "expired": the key that signs (its cert goes in KeyInfo)
  user          optional {"email", "first_name", "last_name"}; default ada@initech.test,
                Ada, Lovelace
  overrides     optional, each key optional:
                  issuer                 Issuer of Response and Assertion (default --idp-entity-id)
                  audience               Conditions Audience (default --sp-entity-id)
                  destination            Response Destination (default --acs-url)
                  recipient              SubjectConfirmationData Recipient (default --acs-url)
                  in_response_to         string, or null for IdP-initiated (no InResponseTo
                                         anywhere); default --in-response-to if given,
                                         else --request-id-prefix + case name
                  not_before_offset      seconds from now for Conditions NotBefore (default -60)
                  not_on_or_after_offset seconds from now for Conditions and
                                         SubjectConfirmationData NotOnOrAfter (default 300)
                  issue_instant_offset   seconds from now for IssueInstant/AuthnInstant (default 0)
                  status, status_message a non-Success top-level StatusCode URI: the response
                                         is then an error Response with no Assertion
                  omit_attributes        attribute names to leave out; okta names (email,
                                         firstName, lastName) also select the entra claims
                  name_id_format         "email" | "persistent" (default: per shape)
  encrypt       optional {"content", "transport", "for"}: the assertion is signed (if
                "sign" says so), then encrypted by pysaml2 (xmlsec1 --encrypt), then the
                Response is signed (if "sign" says so). content: aes128-gcm | aes256-gcm |
                aes128-cbc | aes256-cbc | tripledes-cbc; transport: rsa-oaep-mgf1p | rsa-1_5;
                for: "sp" (the first encryption certificate of --sp-metadata, as an IdP
                reads it) or "attacker" (the attacker's certificate)
  attack        null or one of (applied to the signed XML):
                  strip_signature        remove every ds:Signature
                  tamper_attribute       change NameID and email attribute to evil@attacker.test
                  xsw_wrap_response      (sign response) new root Response with an evil
                                         Assertion; the original Signature moved up to it and
                                         the original Response, minus its Signature, placed
                                         after that Signature (detached, so it still verifies)
                  xsw_wrap_assertion_in_extensions  (sign assertion) original signed Assertion
                                         moved into samlp:Extensions, evil Assertion in its place
                  xsw_sibling_assertion  (sign assertion) evil Assertion inserted before the
                                         original signed one
                  xsw_assertion_in_signature_object (sign assertion) evil Assertion inside a
                                         ds:Object of the original Assertion's Signature (which
                                         precedes its Subject, so a descendant search finds it)
                  two_assertions         a second Assertion for evil@attacker.test, separately
                                         signed by the same key, appended after the first
                  comment_in_nameid      "<!---->" inserted after the second domain label of the
                                         email in NameID and email attributes (exclusive c14n
                                         drops comments, so every signature stays valid:
                                         ada@initech.test<!---->.evil.test)
                  doctype_entity         a DOCTYPE with an internal entity prepended
                  garbage_xml            base64 of bytes that are not XML
                  external_reference     the signature's Reference URI points at --canary-url:
                                         an ACS that lets xmlsec dereference it makes a request
                  retrieval_method       a ds:RetrievalMethod pointing at --canary-url in KeyInfo
                  two_references         a second ds:Reference (to the same element) in SignedInfo
                  reference_to_other_element  (sign assertion) the Assertion's signature names
                                         the Response's ID instead of its own element's
                  xslt_transform         an XSLT transform (which could fetch documents and run
                                         code) added to the Reference
                  xpath_transform        an XPath filter added to the Reference
                  inclusive_c14n         SignedInfo canonicalized with inclusive C14N 1.0
                  keyinfo_key_value      (key attacker) the attacker's RSA public key as a bare
                                         ds:KeyValue, no certificate, for a verifier that takes
                                         the key from the message
                  tamper_ciphertext      (encrypt) one byte of the EncryptedData's CipherValue
                                         changed after the Response was signed
The attacks after garbage_xml rewrite the signed XML, so the digests no longer match; the ACS
must refuse them for their shape, before xmlsec ever reads them.
The evil Assertion of the xsw_* cases is a copy of the original, new ID, no Signature,
NameID/email evil@attacker.test, names Eve Attacker.

Keys (server/tests/fixtures/saml/keys, test-only, RSA 2048, self-signed): idp and attacker
are valid for 10 years from 2026-11-23 (openssl req -x509 -newkey rsa:2048 -sha256 -nodes
-days 3650); expired.crt was valid 2020-01-01 to 2021-01-01 only (openssl ca -selfsign
-startdate 20200101000000Z -enddate 20210101000000Z, as in ../fixtures/saml/certs/generate.sh).
"""

import argparse
import base64
import copy
import datetime
import hashlib
import json
import os
import sys
import tempfile
import uuid
import warnings

warnings.filterwarnings("ignore")  # pysaml2 imports deprecated cryptography names

from lxml import etree  # noqa: E402
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp  # noqa: E402
from saml2.attribute_converter import AttributeConverter  # noqa: E402
from saml2.config import IdPConfig, SPConfig  # noqa: E402
from saml2.metadata import entity_descriptor  # noqa: E402
from saml2.s_utils import do_ava, factory, sid  # noqa: E402
from saml2.saml import (  # noqa: E402
    NAME_FORMAT_UNSPECIFIED,
    NAMEID_FORMAT_EMAILADDRESS,
    NAMEID_FORMAT_PERSISTENT,
    Attribute,
    NameID,
)
from saml2.server import Server  # noqa: E402
from saml2.sigver import (  # noqa: E402
    ASSERT_XPATH,
    pre_encrypt_assertion,
    pre_encryption_part,
    pre_signature_part,
    signed_instance_factory,
)
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256  # noqa: E402

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
XMLSEC = "/usr/bin/xmlsec1"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
DEFAULT_USER = {"email": "ada@initech.test", "first_name": "Ada", "last_name": "Lovelace"}
EVIL_USER = {"email": "evil@attacker.test", "first_name": "Eve", "last_name": "Attacker"}
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MS_CLAIMS = "http://schemas.microsoft.com/identity/claims/"
ENTRA_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
# Attribute names that carry the email, per shape; okta names select entra claims too.
EMAIL_ATTRIBUTES = {"email", CLAIMS + "emailaddress", CLAIMS + "name"}
OKTA_TO_ENTRA = {
    "email": CLAIMS + "emailaddress",
    "firstName": CLAIMS + "givenname",
    "lastName": CLAIMS + "surname",
}
SIGNS = {"response", "assertion", "both", "none"}
ATTACKS = {
    None,
    "strip_signature",
    "tamper_attribute",
    "xsw_wrap_response",
    "xsw_wrap_assertion_in_extensions",
    "xsw_sibling_assertion",
    "xsw_assertion_in_signature_object",
    "two_assertions",
    "comment_in_nameid",
    "doctype_entity",
    "garbage_xml",
    "external_reference",
    "retrieval_method",
    "two_references",
    "reference_to_other_element",
    "xslt_transform",
    "xpath_transform",
    "inclusive_c14n",
    "keyinfo_key_value",
    "tamper_ciphertext",
}
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
CONTENT = {
    "aes128-gcm": (XENC11 + "aes128-gcm", "aes-128"),
    "aes256-gcm": (XENC11 + "aes256-gcm", "aes-256"),
    "aes128-cbc": (XENC + "aes128-cbc", "aes-128"),
    "aes256-cbc": (XENC + "aes256-cbc", "aes-256"),
    "tripledes-cbc": (XENC + "tripledes-cbc", "des-192"),
}
TRANSPORT = {"rsa-oaep-mgf1p": XENC + "rsa-oaep-mgf1p", "rsa-1_5": XENC + "rsa-1_5"}
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
C14N_INCLUSIVE = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


class AsIsConverter(AttributeConverter):
    """Emits each attribute under its own name, with this converter's NameFormat (or
    none, as Entra ID does), instead of pysaml2's lower-casing maps."""

    def __init__(self, name_format, emit_format):
        super().__init__(name_format)
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


# ---------------------------------------------------------------------------------------
# The IdP: one pysaml2 Server per (issuer, key, shape).


def sp_metadata(sp_entity_id, acs_url):
    """The SP's metadata as the IdP admin would have loaded it, made by pysaml2."""
    conf = SPConfig()
    conf.load(
        {
            "entityid": sp_entity_id,
            "xmlsec_binary": XMLSEC,
            "service": {
                "sp": {"endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]}}
            },
        }
    )
    return entity_descriptor(conf).to_string().decode()


_servers = {}


def idp_server(args, issuer, key, shape):
    cache_key = (issuer, key, shape)
    if cache_key in _servers:
        return _servers[cache_key]
    key_file, cert_file = args.keys[key]
    conf = IdPConfig()
    conf.load(
        {
            "entityid": issuer,
            "key_file": key_file,
            "cert_file": cert_file,
            "xmlsec_binary": XMLSEC,
            "metadata": {"inline": [args.sp_metadata]},
            "service": {
                "idp": {
                    "signing_algorithm": SIG_RSA_SHA256,
                    "digest_algorithm": DIGEST_SHA256,
                    "endpoints": {
                        "single_sign_on_service": [(issuer + "/sso", BINDING_HTTP_REDIRECT)]
                    },
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "name_form": NAME_FORMAT_UNSPECIFIED,
                        }
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT],
                }
            },
        }
    )
    server = Server(config=conf)
    converter = AsIsConverter(NAME_FORMAT_UNSPECIFIED, emit_format=(shape == "okta"))
    server.config.attribute_converters = [converter]
    _servers[cache_key] = server
    return server


def opaque_id(email):
    digest = hashlib.sha256(("latchkey-test:" + email).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def identity(shape, user, omit):
    email, first, last = user["email"], user["first_name"], user["last_name"]
    if shape == "okta":
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
    for name in omit:
        attrs.pop(name, None)
        attrs.pop(OKTA_TO_ENTRA.get(name, name), None)
    return attrs


def name_id(shape, user, fmt, sp_entity_id):
    fmt = fmt or ("email" if shape == "okta" else "persistent")
    if fmt == "email":
        return NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user["email"])
    return NameID(format=NAMEID_FORMAT_PERSISTENT, sp_name_qualifier=sp_entity_id, text=opaque_id(user["email"]))


def at(offset):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_signed(args, name, case, user):
    """Builds the response with pysaml2 and signs it as the case says; returns XML text."""
    ov = case.get("overrides") or {}
    shape = case["shape"]
    issuer = ov.get("issuer", args.idp_entity_id)
    server = idp_server(args, issuer, case["key"], shape)
    irt = ov["in_response_to"] if "in_response_to" in ov else (
        args.in_response_to or args.request_id_prefix + name
    )
    destination = ov.get("destination", args.acs_url)
    sign = case["sign"]
    sign_assertion = sign in ("assertion", "both")
    sign_response = sign in ("response", "both")

    status = ov.get("status")
    if status and status != samlp.STATUS_SUCCESS:
        # What IdPs send on failure: an error Response with no Assertion.
        response = server.create_error_response(
            irt, destination, info=(samlp.STATUS_AUTHN_FAILED, ov.get("status_message")), sign=False
        )
        response.status.status_code = samlp.StatusCode(value=status)
        if ov.get("issue_instant_offset"):
            response.issue_instant = at(ov["issue_instant_offset"])
        if sign_response:
            return server.sign(response, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        return response.to_string().decode()

    farg = {
        "assertion": {
            "subject": {
                "subject_confirmation": {
                    "method": "urn:oasis:names:tc:SAML:2.0:cm:bearer",
                    "subject_confirmation_data": {
                        "in_response_to": irt,
                        "recipient": ov.get("recipient", args.acs_url),
                    },
                }
            }
        }
    }
    response = server.create_authn_response(
        identity(shape, user, ov.get("omit_attributes", [])),
        irt,
        destination,
        args.sp_entity_id,
        name_id=name_id(shape, user, ov.get("name_id_format"), args.sp_entity_id),
        authn={"class_ref": PASSWORD_PROTECTED, "authn_auth": issuer},
        sign_response=False,
        sign_assertion=False,
        farg=farg,
    )
    # The test's clock knobs: set on pysaml2's objects before they are signed.
    assertion = response.assertion
    conditions = assertion.conditions
    conditions.not_before = at(ov.get("not_before_offset", -60))
    conditions.not_on_or_after = at(ov.get("not_on_or_after_offset", 300))
    conditions.audience_restriction[0].audience[0].text = ov.get("audience", args.sp_entity_id)
    for confirmation in assertion.subject.subject_confirmation:
        confirmation.subject_confirmation_data.not_on_or_after = conditions.not_on_or_after
    issued = at(ov.get("issue_instant_offset", 0))
    response.issue_instant = issued
    assertion.issue_instant = issued
    for statement in assertion.authn_statement:
        statement.authn_instant = issued

    if case.get("encrypt"):
        return encrypted(args, server, response, sign_assertion, sign_response, case["encrypt"])
    to_sign = []
    if sign_assertion:
        assertion.signature = pre_signature_part(
            assertion.id, server.sec.my_cert, 2, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
        )
        to_sign.append(("urn:oasis:names:tc:SAML:2.0:assertion:Assertion", assertion.id))
    if sign_response:
        return server.sign(response, to_sign=to_sign, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    if to_sign:
        return signed_instance_factory(response, server.sec, to_sign)
    return response.to_string().decode()


def encrypted(args, server, response, sign_assertion, sign_response, enc):
    """Signs the assertion, encrypts it, then signs the Response: the order IdPs use."""
    assertion = response.assertion
    to_sign = []
    if sign_assertion:
        assertion.signature = pre_signature_part(
            assertion.id, server.sec.my_cert, 2, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
        )
        to_sign.append(("urn:oasis:names:tc:SAML:2.0:assertion:Assertion", assertion.id))
    response = pre_encrypt_assertion(response)
    xml = signed_instance_factory(response, server.sec, to_sign) if to_sign else response.to_string().decode()
    cert_file = args.encryption_certs[enc["for"]]
    with open(cert_file, encoding="ascii") as f:
        cert_body = "".join(line.strip() for line in f if "-----" not in line)
    content, session_key = CONTENT[enc["content"]]
    template = pre_encryption_part(
        msg_enc=content, key_enc=TRANSPORT[enc["transport"]], encrypt_cert=cert_body
    )
    xml = server.sec.encrypt_assertion(xml, cert_file, template, key_type=session_key, node_xpath=ASSERT_XPATH)
    if not sign_response:
        return xml
    root = parse(xml)
    signature = parse(
        pre_signature_part(root.get("ID"), server.sec.my_cert, 1, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        .to_string()
        .decode()
    )
    root.find(q("saml", "Issuer")).addnext(signature)
    return server.sec.sign_statement(
        serialize(root).decode(), "urn:oasis:names:tc:SAML:2.0:protocol:Response", node_id=root.get("ID")
    )


def first_encryption_certificate(metadata_xml, out_dir):
    """The certificate an IdP encrypts for: the SP metadata's first use="encryption" one."""
    root = etree.fromstring(metadata_xml.encode())
    md = "urn:oasis:names:tc:SAML:2.0:metadata"
    for descriptor in root.iter("{%s}KeyDescriptor" % md):
        if descriptor.get("use") == "encryption":
            body = "".join(descriptor.find(".//" + q("ds", "X509Certificate")).text.split())
            lines = [body[i : i + 64] for i in range(0, len(body), 64)]
            path = os.path.join(out_dir, "sp-encryption.crt")
            with open(path, "w", encoding="ascii") as f:
                f.write("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")
            return path
    return None


# ---------------------------------------------------------------------------------------
# Attacks: rewrite the signed XML with lxml, which keeps prefixes and whitespace as they are.


def q(prefix, local):
    return "{%s}%s" % (NS[prefix], local)


def parse(xml):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml, parser)


def serialize(root):
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def strip_signatures(element):
    for signature in list(element.iter(q("ds", "Signature"))):
        signature.getparent().remove(signature)


def direct_signature(element):
    return element.find(q("ds", "Signature"))


def email_texts(assertion, email):
    """NameID and email-attribute values that hold the email."""
    found = [e for e in assertion.iter(q("saml", "NameID")) if e.text == email]
    for attribute in assertion.iter(q("saml", "Attribute")):
        if attribute.get("Name") in EMAIL_ATTRIBUTES:
            found.extend(v for v in attribute.findall(q("saml", "AttributeValue")) if v.text == email)
    return found


def evilify(assertion, user):
    """A copy of the assertion, unsigned, with a new ID, for the attacker."""
    evil = copy.deepcopy(assertion)
    strip_signatures(evil)
    evil.set("ID", sid())
    for nid in evil.iter(q("saml", "NameID")):
        nid.text = EVIL_USER["email"] if nid.text == user["email"] else opaque_id(EVIL_USER["email"])
    for attribute in evil.iter(q("saml", "Attribute")):
        name = attribute.get("Name")
        new = None
        if name in EMAIL_ATTRIBUTES:
            new = EVIL_USER["email"]
        elif name in ("firstName", CLAIMS + "givenname"):
            new = EVIL_USER["first_name"]
        elif name in ("lastName", CLAIMS + "surname"):
            new = EVIL_USER["last_name"]
        if new is not None:
            for value in attribute.findall(q("saml", "AttributeValue")):
                value.text = new
    return evil


def only_assertion(root):
    assertions = root.findall(q("saml", "Assertion"))
    if len(assertions) != 1:
        raise SystemExit("attack needs exactly one Assertion in the signed response")
    return assertions[0]


def attack(args, name, case, user, xml):
    kind = case.get("attack")
    if kind is None:
        return xml.encode() if isinstance(xml, str) else xml
    if kind == "garbage_xml":
        return b"\x89PNG\r\n\x1a\n\x00\xffnot XML at all: <<<&&& \xfe\xed\xfa\xce"
    root = parse(xml)
    if kind == "tamper_ciphertext":
        value = root.find(".//{%s}EncryptedData/{%s}CipherData/{%s}CipherValue" % (XENC, XENC, XENC))
        text = "".join(value.text.split())
        value.text = text[:40] + ("A" if text[40] != "A" else "B") + text[41:]
    elif kind == "strip_signature":
        strip_signatures(root)
    elif kind == "tamper_attribute":
        for element in email_texts(only_assertion(root), user["email"]):
            element.text = EVIL_USER["email"]
    elif kind == "xsw_wrap_response":
        signature = direct_signature(root)
        if signature is None:
            raise SystemExit(f"{name}: xsw_wrap_response needs a signed Response")
        original = copy.deepcopy(root)
        original.remove(direct_signature(original))
        evil_root = root
        evil_root.set("ID", sid())
        honest = only_assertion(evil_root)
        evil_root.replace(honest, evilify(honest, user))
        signature.addnext(original)
    elif kind == "xsw_wrap_assertion_in_extensions":
        original = only_assertion(root)
        evil = evilify(original, user)
        root.replace(original, evil)
        extensions = etree.Element(q("samlp", "Extensions"))
        root.find(q("saml", "Issuer")).addnext(extensions)
        extensions.append(original)
    elif kind == "xsw_sibling_assertion":
        original = only_assertion(root)
        original.addprevious(evilify(original, user))
    elif kind == "xsw_assertion_in_signature_object":
        original = only_assertion(root)
        signature = direct_signature(original)
        if signature is None:
            raise SystemExit(f"{name}: xsw_assertion_in_signature_object needs a signed Assertion")
        evil = evilify(original, user)
        holder = etree.SubElement(signature, q("ds", "Object"))
        holder.append(evil)
    elif kind == "two_assertions":
        second_case = dict(case, attack=None)
        second = parse(build_signed(args, name, second_case, EVIL_USER))
        only_assertion(root).addnext(only_assertion(second))
    elif kind == "comment_in_nameid":
        for element in email_texts(only_assertion(root), user["email"]):
            text = element.text
            local, _, domain = text.partition("@")
            labels = domain.split(".")
            if len(labels) < 3:
                raise SystemExit(f"{name}: comment_in_nameid needs an email like a@b.c.evil.test")
            head = local + "@" + ".".join(labels[:2])
            element.text = head
            comment = etree.Comment("")
            comment.tail = text[len(head):]
            element.append(comment)
    elif kind in SIGNATURE_ATTACKS:
        signature = next(root.iter(q("ds", "Signature")), None)
        if signature is None:
            raise SystemExit(f"{name}: {kind} needs a signed response")
        SIGNATURE_ATTACKS[kind](args, root, signature)
    elif kind == "doctype_entity":
        body = etree.tostring(root, encoding="UTF-8")  # no declaration
        qname = f"{root.prefix}:Response" if root.prefix else "Response"
        doctype = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<!DOCTYPE {qname} [\n  <!ENTITY latchkey "{user["email"]}">\n]>\n'
        )
        return doctype.encode() + body
    return serialize(root)


def reference(signature):
    return signature.find(q("ds", "SignedInfo")).find(q("ds", "Reference"))


def add_transform(signature, algorithm, child=None):
    transforms = reference(signature).find(q("ds", "Transforms"))
    transform = etree.SubElement(transforms, q("ds", "Transform"), Algorithm=algorithm)
    if child is not None:
        transform.append(child)


def xslt_stylesheet(args):
    xsl = "http://www.w3.org/1999/XSL/Transform"
    sheet = etree.Element("{%s}stylesheet" % xsl, version="1.0", nsmap={"xsl": xsl})
    template = etree.SubElement(sheet, "{%s}template" % xsl, match="/")
    etree.SubElement(template, "{%s}copy-of" % xsl, select=f"document('{args.canary_url}/xslt')")
    return sheet


def xpath_filter():
    xpath = etree.Element(q("ds", "XPath"), nsmap={"ds": NS["ds"]})
    xpath.text = "not(ancestor-or-self::ds:Signature)"
    return xpath


def key_value(signature):
    key_info = signature.find(q("ds", "KeyInfo"))
    for child in list(key_info):
        key_info.remove(child)
    value = etree.SubElement(key_info, q("ds", "KeyValue"))
    rsa = etree.SubElement(value, q("ds", "RSAKeyValue"))
    etree.SubElement(rsa, q("ds", "Modulus")).text = "AQAB"
    etree.SubElement(rsa, q("ds", "Exponent")).text = "AQAB"


def set_uri(element, uri):
    element.set("URI", uri)


SIGNATURE_ATTACKS = {
    "external_reference": lambda args, root, sig: set_uri(reference(sig), args.canary_url + "/reference"),
    "retrieval_method": lambda args, root, sig: sig.find(q("ds", "KeyInfo")).insert(
        0, etree.Element(q("ds", "RetrievalMethod"), URI=args.canary_url + "/retrieval")
    ),
    "two_references": lambda args, root, sig: reference(sig).addnext(copy.deepcopy(reference(sig))),
    "reference_to_other_element": lambda args, root, sig: set_uri(reference(sig), "#" + root.get("ID")),
    "xslt_transform": lambda args, root, sig: add_transform(sig, XSLT, xslt_stylesheet(args)),
    "xpath_transform": lambda args, root, sig: add_transform(
        sig, XPATH, xpath_filter()
    ),
    "inclusive_c14n": lambda args, root, sig: sig.find(q("ds", "SignedInfo"))
    .find(q("ds", "CanonicalizationMethod"))
    .set("Algorithm", C14N_INCLUSIVE),
    "keyinfo_key_value": lambda args, root, sig: key_value(sig),
}


# ---------------------------------------------------------------------------------------


def load_case(path):
    with open(path, encoding="utf-8") as f:
        case = json.load(f)
    for field in ("description", "expect", "shape", "sign", "key"):
        if field not in case:
            raise SystemExit(f"{path}: missing {field!r}")
    if case["shape"] not in ("okta", "entra"):
        raise SystemExit(f"{path}: bad shape {case['shape']!r}")
    if case["sign"] not in SIGNS:
        raise SystemExit(f"{path}: bad sign {case['sign']!r}")
    if case["key"] not in ("idp", "attacker", "expired"):
        raise SystemExit(f"{path}: bad key {case['key']!r}")
    enc = case.get("encrypt")
    if enc and (
        enc.get("content") not in CONTENT
        or enc.get("transport") not in TRANSPORT
        or enc.get("for") not in ("sp", "attacker")
    ):
        raise SystemExit(f"{path}: bad encrypt {enc!r}")
    if case.get("attack") not in ATTACKS:
        raise SystemExit(f"{path}: bad attack {case.get('attack')!r}")
    return case


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", required=True, help="folder of <case>.json files")
    parser.add_argument("--idp-key", required=True)
    parser.add_argument("--idp-cert", required=True)
    parser.add_argument("--attacker-key", required=True)
    parser.add_argument("--attacker-cert", required=True)
    parser.add_argument("--expired-key", help="default: expired.key beside --idp-key")
    parser.add_argument("--expired-cert", help="default: expired.crt beside --idp-cert")
    parser.add_argument("--idp-entity-id", required=True)
    parser.add_argument("--sp-entity-id", required=True)
    parser.add_argument("--acs-url", required=True)
    parser.add_argument("--request-id-prefix", default="_req-")
    parser.add_argument(
        "--in-response-to",
        help="the request every forged response answers (a sign-in the server started)",
    )
    parser.add_argument(
        "--canary-url",
        default="http://127.0.0.1:9/latchkey-canary",
        help="where the external-reference attacks point; the test counts requests to it",
    )
    parser.add_argument(
        "--sp-metadata",
        help="the SP metadata file the IdP loads (default: made by pysaml2, no certificates)",
    )
    parser.add_argument("--out", help="also write each decoded response to OUT/<case>.xml")
    parser.add_argument("--only", nargs="*", help="forge only these cases")
    args = parser.parse_args(argv)

    args.keys = {
        "idp": (args.idp_key, args.idp_cert),
        "attacker": (args.attacker_key, args.attacker_cert),
        "expired": (
            args.expired_key or os.path.join(os.path.dirname(args.idp_key), "expired.key"),
            args.expired_cert or os.path.join(os.path.dirname(args.idp_cert), "expired.crt"),
        ),
    }
    args.encryption_certs = {"attacker": args.attacker_cert}
    if args.sp_metadata:
        with open(args.sp_metadata, encoding="utf-8") as f:
            args.sp_metadata = f.read()
        sp_cert = first_encryption_certificate(args.sp_metadata, tempfile.mkdtemp())
        if sp_cert:
            args.encryption_certs["sp"] = sp_cert
    else:
        args.sp_metadata = sp_metadata(args.sp_entity_id, args.acs_url)

    names = sorted(f[:-5] for f in os.listdir(args.cases) if f.endswith(".json"))
    if args.only:
        missing = set(args.only) - set(names)
        if missing:
            raise SystemExit(f"no such case: {', '.join(sorted(missing))}")
        names = [n for n in names if n in args.only]
    if args.out:
        os.makedirs(args.out, exist_ok=True)

    result = {}
    for name in names:
        case = load_case(os.path.join(args.cases, name + ".json"))
        user = dict(DEFAULT_USER, **(case.get("user") or {}))
        signed = build_signed(args, name, case, user)
        data = attack(args, name, case, user, signed)
        result[name] = base64.b64encode(data).decode("ascii")
        if args.out:
            suffix = ".bin" if case.get("attack") == "garbage_xml" else ".xml"
            with open(os.path.join(args.out, name + suffix), "wb") as f:
                f.write(data)
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
