//! `latchkey backup --to FILE` and `latchkey --version`, run as an operator
//! would: the real binary on its own SQLite database.

use sea_orm::{EntityTrait, PaginatorTrait};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn latchkey(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env(
            "LATCHKEY_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("state/live.db").display()),
        )
        .env("LATCHKEY_DATA_DIR", dir.join("state"))
        .env("RUST_LOG", "error")
        .output()
        .expect("latchkey runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

#[tokio::test]
async fn a_backup_is_a_private_consistent_copy_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    for slug in ["initech", "globex"] {
        let made = latchkey(dir.path(), &["create-org", "--slug", slug, "--name", slug]);
        assert!(made.status.success(), "{}", text(&made.stderr));
    }
    let copy = dir.path().join("copy.db");
    let copy_arg = copy.display().to_string();
    let backup = latchkey(dir.path(), &["backup", "--to", &copy_arg]);
    assert!(backup.status.success(), "{}", text(&backup.stderr));
    let size = std::fs::metadata(&copy).unwrap().len();
    assert_eq!(
        text(&backup.stdout),
        format!("Backed up the database to {copy_arg} ({size} bytes).")
    );
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The copy opens on its own and holds what the live database held.
    let restored = sea_orm::Database::connect(format!("sqlite://{copy_arg}?mode=ro"))
        .await
        .unwrap();
    let organizations = server::entities::organization::Entity::find()
        .count(&restored)
        .await
        .unwrap();
    assert_eq!(organizations, 2);

    let again = latchkey(dir.path(), &["backup", "--to", &copy_arg]);
    assert_eq!(
        (again.status.success(), text(&again.stderr)),
        (
            false,
            format!("error: {copy_arg} already exists: choose a new file, a backup never overwrites one")
        )
    );
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);
}

#[test]
fn the_version_names_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let version = latchkey(dir.path(), &["--version"]);
    let printed = text(&version.stdout);
    let commit = printed
        .strip_prefix(&format!("latchkey {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{printed}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{printed}"
    );
}
