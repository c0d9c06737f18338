//! xmlsec's own limits, set once per process: no input callbacks (so no
//! `ds:Reference` or `ds:RetrievalMethod` URI can be opened, whatever its
//! scheme) and only the algorithms an honest SAML signature uses.
//!
//! `signature_shape` already refuses every other shape before xmlsec sees a
//! message; these limits make that true of xmlsec itself, so a later change to
//! those rules, or a path that reaches xmlsec another way, cannot reopen the
//! hole. samael creates its own xmlsec contexts and exposes none of their
//! settings, so the limits are set on xmlsec's global state: its registered I/O
//! callbacks and its list of known transforms (every algorithm a message can
//! name, from the reference transforms to the signature method, is looked up
//! there).

use super::signature_shape::{
    DIGESTS, ENVELOPED_SIGNATURE, EXCLUSIVE_C14N, EXCLUSIVE_C14N_WITH_COMMENTS,
};
use std::ffi::{c_int, c_uint, c_void, CString};
use std::sync::OnceLock;

/// Signature methods samael is told to accept (see `response.rs`).
const SIGNATURE_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
/// What verification cannot do without.
const REQUIRED: &[&str] = &[
    EXCLUSIVE_C14N,
    ENVELOPED_SIGNATURE,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmlenc#sha256",
];
/// `xmlSecTransformUsageAny`.
const ANY_USAGE: c_uint = 0xFFFF;

// libxmlsec1 is linked by samael; these are its public API (xmlsec/io.h,
// xmlsec/list.h, xmlsec/transforms.h). Debian builds it with XMLSEC_NO_SIZE_T,
// so xmlSecSize is an unsigned int.
#[link(name = "xmlsec1")]
extern "C" {
    fn xmlSecIOCleanupCallbacks();
    fn xmlSecErrorsDefaultCallbackEnableOutput(enabled: c_int);
    fn xmlSecTransformIdsGet() -> *mut c_void;
    fn xmlSecPtrListEmpty(list: *mut c_void);
    fn xmlSecPtrListAdd(list: *mut c_void, item: *mut c_void) -> c_int;
    fn xmlSecTransformIdListFindByHref(
        list: *mut c_void,
        href: *const u8,
        usage: c_uint,
    ) -> *mut c_void;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("xmlsec could not be initialised")]
    Init,
    #[error("xmlsec does not support {0}, which SAML verification needs")]
    Missing(&'static str),
    #[error("xmlsec refused to rebuild its list of algorithms")]
    Rebuild,
}

static INSTALLED: OnceLock<Result<(), LimitError>> = OnceLock::new();

/// Sets the limits once; every later call returns the first result. Cheap
/// enough to call before each verification.
pub fn ensure() -> Result<(), LimitError> {
    INSTALLED.get_or_init(install).clone()
}

fn install() -> Result<(), LimitError> {
    initialise_xmlsec()?;
    // SAFETY: xmlsec is initialised (above) and nothing verifies yet: every
    // verification calls `ensure` first, which waits for this to finish.
    unsafe {
        xmlSecIOCleanupCallbacks();
        keep_only_allowed_transforms()
    }
}

/// samael initialises xmlsec lazily, the first time it builds a signature
/// context. Any limit set before that would be undone by `xmlSecInit`, so
/// make samael do it now: a document with a signature and a key that cannot
/// load gets exactly that far.
fn initialise_xmlsec() -> Result<(), LimitError> {
    use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
    let probe = r#"<r xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:Signature/></r>"#;
    let no_key = CertificateDer::from(vec![0u8]);
    // The call fails (the key is garbage), quietly; what matters is that it
    // initialised xmlsec. Later errors are printed as before.
    // SAFETY: toggles a flag of xmlsec's default error callback.
    unsafe { xmlSecErrorsDefaultCallbackEnableOutput(0) };
    let _ = Crypto::reduce_xml_to_signed(probe, &[no_key], Default::default());
    unsafe { xmlSecErrorsDefaultCallbackEnableOutput(1) };
    // SAFETY: only reads xmlsec's global list pointer.
    if unsafe { xmlSecTransformIdsGet() }.is_null() {
        return Err(LimitError::Init);
    }
    Ok(())
}

fn allowed_hrefs() -> impl Iterator<Item = &'static str> {
    [
        EXCLUSIVE_C14N,
        EXCLUSIVE_C14N_WITH_COMMENTS,
        ENVELOPED_SIGNATURE,
    ]
    .into_iter()
    .chain(SIGNATURE_METHODS.iter().copied())
    .chain(DIGESTS.iter().copied())
}

/// Leaves only the allowed algorithms in xmlsec's global list; messages naming
/// any other fail in xmlsec as unknown algorithms. (Removing a list item only
/// blanks its slot, which breaks later lookups, so the list is rebuilt.)
unsafe fn keep_only_allowed_transforms() -> Result<(), LimitError> {
    let list = xmlSecTransformIdsGet();
    let find = |href: &str| {
        let href = CString::new(href).expect("hrefs have no NUL");
        xmlSecTransformIdListFindByHref(list, href.as_ptr().cast(), ANY_USAGE)
    };
    for required in REQUIRED {
        if find(required).is_null() {
            return Err(LimitError::Missing(required));
        }
    }
    let mut keep: Vec<*mut c_void> = allowed_hrefs()
        .map(find)
        .filter(|id| !id.is_null())
        .collect();
    keep.dedup();
    // The list holds static klass pointers and has no destructor: emptying it frees nothing.
    xmlSecPtrListEmpty(list);
    for id in keep {
        if xmlSecPtrListAdd(list, id) < 0 {
            return Err(LimitError::Rebuild);
        }
    }
    Ok(())
}

/// Whether xmlsec still knows the algorithm with this href; for tests.
pub fn knows(href: &str) -> bool {
    let href = CString::new(href).expect("hrefs have no NUL");
    // SAFETY: a lookup in xmlsec's global list.
    unsafe {
        !xmlSecTransformIdListFindByHref(xmlSecTransformIdsGet(), href.as_ptr().cast(), ANY_USAGE)
            .is_null()
    }
}
