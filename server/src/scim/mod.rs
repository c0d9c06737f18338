//! The SCIM 2.0 protocol layer (RFC 7643, RFC 7644): no HTML, no UI knowledge.
//! So far the filter and PATCH-path grammars; the endpoints build on them.

pub mod filter;
pub mod path;

pub use filter::{AttrPath, CompareOp, Filter, FilterError, Number, Value};
pub use path::{PatchPath, PathError};
