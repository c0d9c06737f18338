//! The site's static files: the WASM bundle, JS and CSS under `/pkg`, and the
//! files of `public/` (the favicon) at the root.
//!
//! A release binary carries them inside itself (`scripts/lib/build-release`
//! builds the site first and hands its folder to `build.rs`), so `latchkey
//! serve` needs nothing beside it. `LEPTOS_SITE_ROOT` still names a folder to
//! serve instead, read once at start-up; a binary built without a site (tests,
//! `cargo run`) reads `target/site`. Either way the files are held in memory
//! and found by exact name, so no request path can reach outside the bundle.
//!
//! `scripts/lib/precompress-site` writes a brotli (`.br`, quality 11) and a
//! gzip (`.gz`) copy of each file; the one the browser accepts goes out as it
//! is (brotli is a quarter smaller than gzip on the WASM, and costs no CPU per
//! request). A file without copies is gzip-compressed on the fly.

use super::site_files::{self, is_compressed_copy};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use leptos::prelude::ArcStoredValue;
use leptos::WasmSplitManifest;
use std::collections::HashMap;
use std::path::Path;

mod embedded {
    use super::EmbeddedFile;
    include!(concat!(env!("OUT_DIR"), "/embedded_site.rs"));
}

/// Where a binary built without a site looks (cargo-leptos's layout).
pub const DEV_SITE_ROOT: &str = "target/site";
const PKG_DIR: &str = "pkg";
/// The names leptos's `HydrationScripts` uses when file names are not hashed.
const SPLIT_MANIFEST: &str = "__wasm_split_manifest.json";
const SPLIT_LOADER: &str = "__wasm_split.______________________.js";

/// One file as `build.rs` embeds it: its path under the site root, its bytes,
/// and the precompressed copies that were beside it.
pub struct EmbeddedFile {
    pub path: &'static str,
    pub etag: &'static str,
    pub identity: &'static [u8],
    pub brotli: Option<&'static [u8]>,
    pub gzip: Option<&'static [u8]>,
}

struct SiteFile {
    content_type: &'static str,
    etag: HeaderValue,
    identity: Bytes,
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
}

/// Every static file of the site, by its path under the site root
/// (`pkg/latchkey.wasm`, `favicon.ico`).
pub struct SiteBundle {
    files: HashMap<String, SiteFile>,
    /// Which lazily loaded chunks each split route needs, for the preload
    /// links `HydrationScripts` would otherwise read from the site folder.
    split_manifest: Option<HashMap<String, Vec<String>>>,
}

/// Where the site comes from, as the server says at start-up.
#[derive(Debug)]
pub enum SiteSource {
    Embedded,
    Folder(String),
}

impl SiteBundle {
    /// The folder `LEPTOS_SITE_ROOT` names, else the site built into this
    /// binary, else `target/site`.
    pub fn for_site_root(site_root: Option<&str>) -> (SiteBundle, SiteSource) {
        match site_root {
            Some(folder) => (
                Self::load(Path::new(folder)),
                SiteSource::Folder(folder.into()),
            ),
            None if !embedded::FILES.is_empty() => (Self::embedded(), SiteSource::Embedded),
            None => (
                Self::load(Path::new(DEV_SITE_ROOT)),
                SiteSource::Folder(DEV_SITE_ROOT.into()),
            ),
        }
    }

    fn embedded() -> SiteBundle {
        Self::from_files(embedded::FILES.iter().map(|file| {
            let copy = |bytes: Option<&'static [u8]>| bytes.map(Bytes::from_static);
            let site_file = SiteFile {
                content_type: content_type(file.path),
                etag: HeaderValue::from_static(file.etag),
                identity: Bytes::from_static(file.identity),
                brotli: copy(file.brotli),
                gzip: copy(file.gzip),
            };
            (file.path.to_string(), site_file)
        }))
    }

    /// Reads `root/pkg` and the icons and text files at `root` itself: a
    /// folder named by mistake (the data folder, say) gives nothing else
    /// away. A missing folder is an empty site: pages render, without scripts.
    fn load(root: &Path) -> SiteBundle {
        let mut paths = Vec::new();
        collect_files(root, &root.join(PKG_DIR), &mut paths);
        let root_files = std::fs::read_dir(root).into_iter().flatten().flatten();
        paths.extend(
            root_files
                .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| is_root_asset(name)),
        );
        if paths.is_empty() {
            tracing::warn!(root = %root.display(), "no site files found; pages will not hydrate");
        }
        let read = |path: &str| std::fs::read(root.join(path)).ok().map(Bytes::from);
        Self::from_files(
            paths
                .iter()
                .filter(|p| !is_compressed_copy(p))
                .filter_map(|path| {
                    let identity = read(path)?;
                    let brotli = read(&format!("{path}.br"));
                    let gzip = read(&format!("{path}.gz"));
                    Some((
                        path.clone(),
                        SiteFile::from_bytes(path, identity, brotli, gzip),
                    ))
                }),
        )
    }

    fn from_files(files: impl Iterator<Item = (String, SiteFile)>) -> SiteBundle {
        let files: HashMap<String, SiteFile> = files.collect();
        let split_manifest = files
            .get(&format!("{PKG_DIR}/{SPLIT_MANIFEST}"))
            .and_then(|file| serde_json::from_slice(&file.identity).ok());
        SiteBundle {
            files,
            split_manifest,
        }
    }

    /// The split routes' preload list, in the form `HydrationScripts` gives it.
    pub fn split_manifest(&self) -> Option<WasmSplitManifest> {
        let manifest = self.split_manifest.clone()?;
        let pkg = format!("/{PKG_DIR}");
        Some(WasmSplitManifest(ArcStoredValue::new((
            pkg,
            manifest,
            SPLIT_LOADER.to_string(),
        ))))
    }

    /// The response for the file at `path` (under the site root), or `None`
    /// when the site has no such file.
    pub fn respond(&self, path: &str, request: &HeaderMap) -> Option<Response> {
        let file = self.files.get(path)?;
        Some(file.respond(request))
    }
}

impl SiteFile {
    fn from_bytes(
        path: &str,
        identity: Bytes,
        brotli: Option<Bytes>,
        gzip: Option<Bytes>,
    ) -> SiteFile {
        SiteFile {
            content_type: content_type(path),
            etag: etag(&identity),
            identity,
            brotli,
            gzip,
        }
    }

    fn respond(&self, request: &HeaderMap) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        // Names are not content-hashed, so a browser asks again each time and
        // gets a 304 while the file is unchanged.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if request.get(header::IF_NONE_MATCH) == Some(&self.etag) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        let accepts = |coding: &str| accepts_encoding(request, coding);
        let (body, coding) = match (&self.brotli, &self.gzip) {
            (Some(brotli), _) if accepts("br") => (brotli, Some("br")),
            (_, Some(gzip)) if accepts("gzip") => (gzip, Some("gzip")),
            _ => (&self.identity, None),
        };
        if let Some(coding) = coding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        (headers, Body::from(body.clone())).into_response()
    }
}

/// Whether `Accept-Encoding` lists `coding` with a non-zero weight.
fn accepts_encoding(request: &HeaderMap, coding: &str) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let weight = parts
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            name.eq_ignore_ascii_case(coding) && weight > 0.0
        })
}

/// What `public/` may hold beside `pkg/`.
fn is_root_asset(name: &str) -> bool {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(extension.as_deref(), Some("ico" | "png" | "svg" | "txt"))
}

/// Paths of the regular files under `dir`, relative to `root`, with `/`.
fn collect_files(root: &Path, dir: &Path, into: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_files(root, &path, into);
        } else if kind.is_file() {
            if let Some(relative) = path.strip_prefix(root).ok().and_then(|p| p.to_str()) {
                into.push(relative.replace(std::path::MAIN_SEPARATOR, "/"));
            }
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn etag(content: &[u8]) -> HeaderValue {
    HeaderValue::from_str(&site_files::etag(content)).expect("hex digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn an_encoding_counts_as_accepted_unless_weighted_zero() {
        let cases = [
            ("gzip, deflate, br, zstd", "br", true),
            ("gzip;q=1.0, br;q=0.5", "br", true),
            ("gzip, br;q=0", "br", false),
            ("gzip, br; q=0.000", "br", false),
            ("BR", "br", true),
            ("gzip", "br", false),
            ("", "gzip", false),
        ];
        for (header, coding, expected) in cases {
            assert_eq!(
                accepts_encoding(&accept(header), coding),
                expected,
                "{header:?} {coding}"
            );
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        let cases = [
            ("pkg/latchkey.wasm", "application/wasm"),
            ("pkg/latchkey.js", "text/javascript; charset=utf-8"),
            ("pkg/latchkey.css", "text/css; charset=utf-8"),
            ("favicon.ico", "image/x-icon"),
            ("LICENSE", "application/octet-stream"),
        ];
        for (path, expected) in cases {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }
}
