use clap::Parser;
use server::accounts::{self, NewUser};
use server::audit::Actor;
use server::cli::{Cli, Command};
use server::config::Config;
use server::http::{router, AppState};
use server::provider::apps;
use server::{bootstrap, db, sessions};
use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

// mimalloc rather than glibc's malloc: a request allocates and frees hundreds
// of small buffers across threads, and glibc spent 15 % of the server's CPU
// on it (perf, SCIM lookups: _int_malloc, _int_free, malloc_consolidate).
// Built without transparent huge pages, which held 14 MB more at idle.
// It also replaces malloc for the C libraries (the "override" feature):
// SQLite, libxml2, xmlsec and OpenSSL allocate per statement and per
// signature, and a SCIM lookup took 134 → 107 µs of CPU, an ACS validation
// 217 → 192 µs (same machine, same hour).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to standard error: standard output is for what commands print
    // (create-app's JSON, say), which scripts parse.
    init_logs();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error, as text, or with `LATCHKEY_LOG_FORMAT=json` as one
/// JSON object a line whose `spans` carry the request id.
fn init_logs() {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr);
    match std::env::var("LATCHKEY_LOG_FORMAT").as_deref() {
        Ok("json") => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        _ => logs.init(),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let db = db::connect(&config.database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    db::migrate(&db)
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    match cli.command.unwrap_or(Command::Serve { seed_demo: false }) {
        Command::Serve { seed_demo } => serve(db, config, seed_demo).await,
        Command::Migrate => {
            println!("Database is up to date.");
            Ok(())
        }
        Command::CreateOrg { slug, name } => {
            let org = accounts::create_organization(&db, &slug, &name, Actor::Cli)
                .await
                .map_err(|e| e.to_string())?;
            println!("Created organization {} ({}).", org.slug, org.name);
            Ok(())
        }
        Command::CreateUser {
            org,
            email,
            role,
            first_name,
            last_name,
            password_stdin,
        } => {
            let role = role
                .parse()
                .map_err(|e: shared::account::UnknownRole| e.to_string())?;
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let user = accounts::create_user(
                &db,
                NewUser {
                    org_slug: org,
                    email,
                    first_name,
                    last_name,
                    role,
                    password,
                    source: shared::members::MemberSource::Manual,
                },
                Actor::Cli,
            )
            .await
            .map_err(|e| e.to_string())?;
            println!("Created {} ({role}).", user.email);
            Ok(())
        }
        Command::EnableScim { org, provider } => {
            let found = accounts::find_organization(&db, &org)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no organization has the slug \"{org}\""))?;
            let provider = shared::IdentityProvider::from_key(&provider)
                .filter(|p| p.supports_scim())
                .ok_or_else(|| format!("\"{provider}\" is not a SCIM identity provider"))?;
            let admin = server::scim::connections::Admin {
                org_id: found.id,
                actor: Actor::Cli,
            };
            let name = shared::provisioning::name_or_default("", provider);
            let (connection, token) =
                server::scim::connections::enable(&db, &admin, provider.key(), &name)
                    .await
                    .map_err(|e| e.to_string())?;
            let public_base = server::scim::public_base(&config.public_url);
            let base = server::scim::base_url(&public_base, connection.id);
            println!(
                "SCIM Base URL: {base}\nBearer Token:  {token}\nThe token is shown only once."
            );
            Ok(())
        }
        Command::CreateApp {
            name,
            redirect_uris,
            webhook_url,
            post_logout_redirect_uris,
            backchannel_logout_uri,
        } => {
            let secrets =
                server::secrets::SecretKey::load(config.secret_key.as_deref(), &config.data_dir)
                    .map_err(|e| e.to_string())?;
            let new = apps::NewApp {
                name,
                redirect_uris,
                webhook_url,
                post_logout_redirect_uris,
                backchannel_logout_uri,
            };
            let credentials = apps::create(&db, &secrets, new, config.allow_private_urls)
                .await
                .map_err(|e| e.to_string())?;
            print_json(&credentials)
        }
        Command::ListApps => print_json(&apps::list(&db).await.map_err(|e| e.to_string())?),
        Command::RotateAppSecret { client_id } => {
            let client_secret = apps::rotate_secret(&db, &client_id)
                .await
                .map_err(|e| e.to_string())?;
            print_json(
                &serde_json::json!({ "client_id": client_id, "client_secret": client_secret }),
            )
        }
        Command::DeleteApp { client_id } => {
            apps::delete(&db, &client_id)
                .await
                .map_err(|e| e.to_string())?;
            println!("Deleted the app {client_id}.");
            Ok(())
        }
        Command::SetupLink { org, email, days } => {
            let link = server::provider::setup_links::create(
                &db,
                config.public_url.as_str(),
                &org,
                &email,
                Some(days),
                Actor::Cli,
            )
            .await
            .map_err(|e| e.to_string())?;
            print_json(&link)
        }
        Command::AppDeliveries => print_json(
            &server::provider::webhooks::status(&db)
                .await
                .map_err(|e| e.to_string())?,
        ),
        Command::Backup { to } => {
            let bytes = server::backup::sqlite_copy(&db, &to)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "Backed up the database to {} ({bytes} bytes).",
                to.display()
            );
            Ok(())
        }
        Command::RotateSigningKey => {
            let secrets =
                server::secrets::SecretKey::load(config.secret_key.as_deref(), &config.data_dir)
                    .map_err(|e| e.to_string())?;
            let kid = server::provider::keys::rotate(&db, &secrets)
                .await
                .map_err(|e| e.to_string())?;
            print_json(&serde_json::json!({ "kid": kid }))
        }
        Command::SeedScimUsers {
            org,
            count,
            domain,
            ids_file,
        } => {
            let found = accounts::find_organization(&db, &org)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no organization has the slug \"{org}\""))?;
            let ids = server::scim::bench::seed_users(&db, found.id, count, &domain)
                .await
                .map_err(|e| e.to_string())?;
            let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
            std::fs::write(&ids_file, text).map_err(|e| e.to_string())?;
            println!("Added {} users; ids in {}.", ids.len(), ids_file.display());
            Ok(())
        }
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// The first line of standard input, without its line ending.
fn read_password() -> Result<String, String> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    Ok(input.lines().next().unwrap_or_default().to_string())
}

async fn serve(
    db: sea_orm::DatabaseConnection,
    config: Config,
    seed_demo: bool,
) -> Result<(), String> {
    if seed_demo {
        if let Some(demo) = bootstrap::seed_demo(&db).await.map_err(|e| e.to_string())? {
            println!(
                "\nCreated the demo organization \"{}\".\n  Sign in at: {}/login\n  Email:      {}\n  Password:   {}\nThis password is shown only once.\n",
                bootstrap::DEMO_SLUG,
                config.public_url.as_str().trim_end_matches('/'),
                demo.email,
                demo.password
            );
        }
    }
    let listen = config.listen;
    let public_url = config.public_url.clone();
    if let Some(address) = config.metrics_listen {
        serve_metrics(db.clone(), address).await?;
    }
    tokio::spawn(purge_sessions_periodically(db.clone()));
    tokio::spawn(db::checkpoint_periodically(db.clone()));
    let state = AppState::new(db.clone(), config).map_err(|e| e.to_string())?;
    let resealed = server::secrets::reseal_legacy(&db, &state.secrets)
        .await
        .map_err(|e| format!("re-sealing stored secrets: {e}"))?;
    if resealed.resealed > 0 || resealed.undecryptable > 0 {
        tracing::info!(
            resealed = resealed.resealed,
            undecryptable = resealed.undecryptable,
            "stored client secrets re-sealed to their rows"
        );
    }
    // Refuse to serve an ACS whose xmlsec could still fetch URLs.
    server::saml::xmlsec_limits::ensure().map_err(|e| format!("SAML verification: {e}"))?;
    tokio::spawn(state.webhook_dispatcher().run());
    tokio::spawn(server::provider::backchannel::run_sweeper(
        state.provider.clone(),
    ));
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!(%listen, public_url = %public_url, "Latchkey is serving");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| e.to_string())
}

/// `GET /metrics` on its own address, so it never faces the internet with the app.
async fn serve_metrics(db: sea_orm::DatabaseConnection, address: SocketAddr) -> Result<(), String> {
    let handle = server::metrics::install();
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen for metrics on {address}: {e}"))?;
    tracing::info!(%address, "metrics at /metrics");
    tokio::spawn(async move {
        let app = server::metrics::router(db, handle);
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    Ok(())
}

async fn purge_sessions_periodically(db: sea_orm::DatabaseConnection) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(error) = sessions::purge_expired(&db).await {
            tracing::warn!(%error, "could not purge expired sessions");
        }
        if let Err(error) = server::sso::logout::purge_expired(&db).await {
            tracing::warn!(%error, "could not purge unanswered logouts");
        }
        // Per sign-in these were a write each; nothing reads an expired row.
        let sign_ins = (
            server::sso::requests::purge_expired(&db).await,
            server::sso::replay::purge_expired(&db).await,
        );
        if let (Err(error), _) | (_, Err(error)) = sign_ins {
            tracing::warn!(%error, "could not purge expired sign-in requests and assertions");
        }
        let provider = (
            server::provider::codes::purge_expired(&db).await,
            server::provider::tokens::purge_expired(&db).await,
        );
        if let (Err(error), _) | (_, Err(error)) = provider {
            tracing::warn!(%error, "could not purge expired codes and tokens");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
