//! What the server leaves on disk when it starts: the data folder and the
//! SQLite files are readable by its own user only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_data_folder_and_the_sqlite_files_are_private() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("state");
    let database = data.join("latchkey.db");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    let db = server::db::connect(&url).await.expect("connect");
    server::db::migrate(&db).await.expect("migrate");
    server::secrets::SecretKey::load(None, &data).expect("secret key");

    assert_eq!(mode(&data), 0o700);
    for file in [
        "latchkey.db",
        "latchkey.db-wal",
        "latchkey.db-shm",
        "secret.key",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn a_new_data_folder_for_the_key_alone_is_private_too() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("a").join("b");
    server::secrets::SecretKey::load(None, &data).expect("secret key");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&root.path().join("a")), 0o700);
}
