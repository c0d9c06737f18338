//! What `build.rs` (which embeds the site) and `site.rs` (which serves it)
//! must agree on. `build.rs` includes this file with `#[path]`.

/// A strong validator: the same bytes give the same tag, which is all a
/// browser's revalidation needs.
pub fn etag(content: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    content.hash(&mut hasher);
    format!("\"{:016x}-{}\"", hasher.finish(), content.len())
}

/// A brotli or gzip copy that `scripts/lib/precompress-site` wrote beside a
/// file: served in its place, never as a file of its own.
pub fn is_compressed_copy(path: &str) -> bool {
    path.ends_with(".br") || path.ends_with(".gz")
}
