//! The `latchkey` command line.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("LATCHKEY_COMMIT"), ")"),
    about = "Enterprise SSO and SCIM for B2B SaaS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve {
        /// On an empty database, create the demo organization `acme` with an
        /// Integrations Admin, and print how to sign in.
        #[arg(long)]
        seed_demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Create an organization.
    CreateOrg {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
    /// Create a user in an organization.
    CreateUser {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// `integrations-admin` or `member`.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long, default_value = "")]
        first_name: String,
        #[arg(long, default_value = "")]
        last_name: String,
        /// Read the password from standard input; without it the account can
        /// only sign in through SSO.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Enable SCIM provisioning for an organization and print its base URL and
    /// bearer token (shown once), as Settings > User Provisioning does.
    EnableScim {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// okta, microsoft_entra_id, jumpcloud, onelogin, cyberark or other.
        #[arg(long, default_value = "other")]
        provider: String,
    },
    /// Register a host app as an OpenID Connect client of Latchkey and print
    /// `{"client_id", "client_secret", "webhook_secret"}` (secrets shown once).
    CreateApp {
        #[arg(long)]
        name: String,
        /// Where Latchkey may send members back (exact match); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where directory and connection events are POSTed.
        #[arg(long)]
        webhook_url: Option<String>,
        /// Where members may return after logging out (exact match); repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where Latchkey POSTs a logout token when a member's session ends.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
    },
    /// List the registered host apps (never their secrets), as JSON.
    ListApps,
    /// Give a host app a new client secret (printed once); the old one stops working.
    RotateAppSecret {
        #[arg(long)]
        client_id: String,
    },
    /// Remove a host app; its codes and tokens stop working.
    DeleteApp {
        #[arg(long)]
        client_id: String,
    },
    /// Print a one-time link that makes EMAIL the organization's Integrations
    /// Admin (for an IT admin who has no account yet), as JSON.
    SetupLink {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// How long the link works, 1 to 30 days.
        #[arg(long, default_value_t = 7)]
        days: i64,
    },
    /// Show each host app's webhook deliveries: pending, delivered, given up, last error.
    AppDeliveries,
    /// Copy the SQLite database, consistently, while the server runs (VACUUM
    /// INTO). PostgreSQL: use pg_dump.
    Backup {
        /// The new file; it must not exist yet.
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Sign new ID tokens with a new key; the old key stays published until its
    /// tokens expire.
    RotateSigningKey,
    /// Benchmark helper: add N SCIM-style users (`user<n>@<domain>`) in bulk and
    /// write their ids to a file, one a line.
    #[command(hide = true)]
    SeedScimUsers {
        #[arg(long)]
        org: String,
        #[arg(long)]
        count: u32,
        #[arg(long, default_value = "bench.test")]
        domain: String,
        #[arg(long)]
        ids_file: std::path::PathBuf,
    },
}
