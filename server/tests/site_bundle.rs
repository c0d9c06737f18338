//! The WASM bundle, JS and CSS under `/pkg`, and the favicon at the root: the
//! brotli or gzip copy that `scripts/lib/precompress-site` wrote goes out as
//! it is, to a browser that accepts it; a file without copies is
//! gzip-compressed on the fly. These tests give the server a site folder
//! (`LEPTOS_SITE_ROOT`); the release binary carries the same files inside
//! itself, which the browser tests use (scripts/lib/e2e runs it from another
//! folder).

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

async fn fetch(app: &TestApp, path: &str, accept_encoding: &str) -> TestResponse {
    let mut request = Request::get(path);
    if !accept_encoding.is_empty() {
        request = request.header(header::ACCEPT_ENCODING, accept_encoding);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

/// (status, Content-Encoding, body) of a response.
fn seen(response: &TestResponse) -> (StatusCode, Option<&str>, &str) {
    (
        response.status,
        response.header("content-encoding"),
        response.body.as_str(),
    )
}

#[tokio::test]
async fn precompressed_copies_go_out_to_browsers_that_accept_them() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    // The copies' bytes are the server's to pass on untouched, whatever they hold.
    for (name, content) in [
        ("latchkey.js", "the script itself"),
        ("latchkey.js.br", "the brotli copy"),
        ("latchkey.js.gz", "the gzip copy"),
    ] {
        std::fs::write(pkg.join(name), content).unwrap();
    }
    let css = "body { color: black; }\n".repeat(100);
    std::fs::write(pkg.join("latchkey.css"), &css).unwrap();
    let root = site.path().display().to_string();
    let app = TestApp::spawn_with(&[("LEPTOS_SITE_ROOT", root.as_str())]).await;

    let script = "/pkg/latchkey.js";
    let ok = StatusCode::OK;
    assert_eq!(
        seen(&fetch(&app, script, "gzip, deflate, br, zstd").await),
        (ok, Some("br"), "the brotli copy")
    );
    assert_eq!(
        seen(&fetch(&app, script, "gzip, deflate").await),
        (ok, Some("gzip"), "the gzip copy")
    );
    assert_eq!(
        seen(&fetch(&app, script, "").await),
        (ok, None, "the script itself")
    );

    let styles = fetch(&app, "/pkg/latchkey.css", "gzip, br").await;
    assert_eq!(styles.status, ok);
    assert_eq!(styles.header("content-encoding"), Some("gzip"));
    assert!(styles.body.len() < css.len() / 4, "compressed on the fly");
    assert_eq!(
        fetch(&app, "/pkg/missing.wasm", "br").await.status,
        StatusCode::NOT_FOUND
    );
}

/// The attack: `/pkg/` names a file outside the bundle folder (the data folder
/// with the database and the secret key sits beside the site in many setups).
#[tokio::test]
async fn nothing_outside_the_bundle_folder_is_served() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("secret.key"), "not for the web").unwrap();
    let root = site.path().display().to_string();
    let app = TestApp::spawn_with(&[("LEPTOS_SITE_ROOT", root.as_str())]).await;
    for path in [
        "/pkg/../secret.key",
        "/pkg/%2e%2e/secret.key",
        "/pkg/..%2fsecret.key",
        "/pkg/%2e%2e%2fsecret.key",
        "/secret.key",
    ] {
        let answer = fetch(&app, path, "br, gzip").await;
        assert!(
            !answer.body.contains("not for the web"),
            "{path}: {}",
            answer.status
        );
        assert!(answer.status.is_client_error(), "{path}: {}", answer.status);
    }
}

#[tokio::test]
async fn an_unchanged_file_is_answered_not_modified_and_the_favicon_is_at_the_root() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/latchkey.wasm"), b"\0asm the bundle").unwrap();
    std::fs::write(site.path().join("favicon.ico"), b"an icon").unwrap();
    let root = site.path().display().to_string();
    let app = TestApp::spawn_with(&[("LEPTOS_SITE_ROOT", root.as_str())]).await;

    let first = fetch(&app, "/pkg/latchkey.wasm", "").await;
    assert_eq!(seen(&first), (StatusCode::OK, None, "\0asm the bundle"));
    assert_eq!(first.header("content-type"), Some("application/wasm"));
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    let etag = first.header("etag").expect("an ETag").to_string();
    let again = app
        .send(
            Request::get("/pkg/latchkey.wasm")
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        (again.status, again.body.as_str()),
        (StatusCode::NOT_MODIFIED, "")
    );

    let icon = fetch(&app, "/favicon.ico", "").await;
    assert_eq!(seen(&icon), (StatusCode::OK, None, "an icon"));
    assert_eq!(icon.header("content-type"), Some("image/x-icon"));
    let posted = app
        .send(Request::post("/favicon.ico").body(Body::empty()).unwrap())
        .await;
    assert_ne!(posted.body, "an icon", "only GET and HEAD read a file");
    assert_eq!(
        fetch(&app, "/no-such-page", "").await.status,
        StatusCode::NOT_FOUND
    );
}
