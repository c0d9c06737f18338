//! SAML ACS over HTTP, SP-initiated, at concurrency 8 (SPEC §13): the release
//! server signs members in from Okta-shaped responses (Response and Assertion
//! both signed, RSA-SHA256), each answering a sign-in the server started.
//!
//! Before the clock starts: a SAML connection is saved on the organization
//! `bench`, the server starts N sign-ins at `/login/bench` (each a pending
//! request and a browser cookie), and the responses are signed with the
//! test IdP's key, one per request, for 1,000 members. A warm-up pass signs
//! every member in once (their accounts are created just in time); then the
//! measured pass posts the rest to the ACS, each with its browser's cookie.
//!
//! Run by `scripts/bench-acs`, which makes the database and the organization
//! and sets LATCHKEY_BIN, LATCHKEY_DATABASE_URL, LATCHKEY_LISTEN,
//! LATCHKEY_PUBLIC_URL and BENCH_BACKEND. BENCH_RESPONSES (default 12,000)
//! sets how many responses are measured.

use base64::Engine;
use chrono::{Duration as Span, SecondsFormat, Utc};
use samael::crypto::{Crypto, CryptoProvider};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use server::audit::Actor;
use server::connections::store;
use server::entities::organization;
use shared::connection::{NewConnection, SamlForm};
use shared::{AttributeMapping, IdentityProvider, IdpUrlPolicy, Protocol};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IDP: &str = "http://idp.test/okta";
const MEMBERS: usize = 1_000;
const CONCURRENCY: usize = 8;
const POSTS: &str = "POST /sso/saml/{id}/acs (c=8)";
/// Not a SPEC §13 figure: what the member's first step costs, measured on the way.
const STARTS: &str = "GET /login/{org} (start, c=8)";

/// A sign-in the server started: its request ID, RelayState and the cookie
/// its browser holds.
struct Started {
    request_id: String,
    relay_state: String,
    cookie: String,
}

/// What the IdP's page posts to the ACS, with the browser's cookie.
struct Post {
    body: String,
    cookie: String,
}

#[tokio::main]
async fn main() {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let public_url = env("LATCHKEY_PUBLIC_URL");
    let backend = std::env::var("BENCH_BACKEND").unwrap_or_else(|_| "sqlite".into());
    let measured: usize = std::env::var("BENCH_RESPONSES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12_000);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml/keys");
    let certificate = std::fs::read_to_string(fixtures.join("idp.crt")).unwrap();
    let key = openssl::pkey::PKey::private_key_from_pem(
        &std::fs::read(fixtures.join("idp.key")).unwrap(),
    )
    .unwrap()
    .private_key_to_der()
    .unwrap();

    let connection = save_connection(&env("LATCHKEY_DATABASE_URL"), &certificate).await;
    let mut server = Server::start(&env("LATCHKEY_BIN"), &public_url).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let total = MEMBERS + measured;
    let ticks_before = server.cpu_ticks();
    let (started, starts) = start_sign_ins(&client, &public_url, total).await;
    let start_ticks = server.cpu_ticks() - ticks_before;
    let acs = format!("{public_url}/sso/saml/{connection}/acs");
    let sp = format!("{public_url}/sso/saml/{connection}/metadata");
    let posts = sign_responses(started, &key, &sp, &acs);
    let (warm_up, measured_posts) = posts.split_at(MEMBERS);

    let _ = post_all(&client, &acs, warm_up).await;
    let ticks_before = server.cpu_ticks();
    let run = post_all(&client, &acs, measured_posts).await;
    let ticks = server.cpu_ticks() - ticks_before;
    server.stop();

    println!("==> {backend}");
    run.print(POSTS, measured_posts.len(), ticks);
    starts.print(STARTS, total, start_ticks);
}

/// The organization `bench` gets an active Okta SAML connection trusting the
/// test IdP; its ID.
async fn save_connection(database_url: &str, certificate: &str) -> uuid::Uuid {
    let db = server::db::connect(database_url).await.unwrap();
    let org = organization::Entity::find()
        .filter(organization::Column::Slug.eq("bench"))
        .one(&db)
        .await
        .unwrap()
        .expect("scripts/bench-acs creates the organization `bench`");
    let new = NewConnection {
        protocol: Protocol::Saml,
        provider: IdentityProvider::Okta,
        display_name: String::new(),
    };
    let created = store::create(&db, org.id, Actor::Cli, new).await.unwrap();
    let form = SamlForm {
        provider: Some(IdentityProvider::Okta),
        sso_url: "https://idp.test/sso".into(),
        entity_id: IDP.into(),
        certificates_pem: certificate.into(),
        mapping: AttributeMapping::new("email", "firstName", "lastName"),
        ..SamlForm::default()
    };
    let id = created.id.to_string();
    store::save_saml(&db, org.id, &id, Actor::Cli, form, IdpUrlPolicy::HttpsOnly)
        .await
        .unwrap();
    created.id
}

/// The release server, and how much CPU it has used.
struct Server(Child);

impl Server {
    async fn start(bin: &str, public_url: &str) -> Self {
        let log = std::env::temp_dir().join("latchkey-bench-acs.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        let server = Self(child);
        for _ in 0..100 {
            if reqwest::get(format!("{public_url}/healthz"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not start; see {}", log.display());
    }

    /// User and system time, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap();
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `count` sign-ins started at `/login/bench` by a plain HTTP client, and
/// how long they took.
async fn start_sign_ins(
    client: &reqwest::Client,
    public_url: &str,
    count: usize,
) -> (Vec<Started>, Run) {
    let next = Arc::new(AtomicUsize::new(0));
    let begun = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            let url = format!("{public_url}/login/bench");
            tokio::spawn(async move {
                let (mut started, mut latencies) = (Vec::new(), Vec::new());
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let sent = Instant::now();
                    started.push(start_one(&client, &url).await);
                    latencies.push(sent.elapsed());
                }
                (started, latencies)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    let mut run = Run::default();
    for task in tasks {
        let (started, latencies) = task.await.unwrap();
        all.extend(started);
        run.latencies.extend(latencies);
    }
    run.elapsed = begun.elapsed();
    (all, run)
}

async fn start_one(client: &reqwest::Client, url: &str) -> Started {
    let response = client
        .get(url)
        .header("Accept", "*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lk_saml_"))
        .and_then(|c| c.split(';').next())
        .expect("the browser-binding cookie")
        .to_string();
    let location = response.headers()["location"].to_str().unwrap();
    let relay_state = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "RelayState")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let request_id = cookie["lk_saml_".len()..]
        .split('=')
        .next()
        .unwrap()
        .to_string();
    Started {
        request_id,
        relay_state,
        cookie,
    }
}

/// One signed response per started sign-in, on every core.
fn sign_responses(started: Vec<Started>, key: &[u8], sp: &str, acs: &str) -> Vec<Post> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = started.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = started
            .chunks(chunk)
            .enumerate()
            .map(|(part, requests)| {
                scope.spawn(move || {
                    requests
                        .iter()
                        .enumerate()
                        .map(|(i, request)| {
                            let member = (part * chunk + i) % MEMBERS;
                            let xml = okta_response(request, member, key, sp, acs);
                            let body = serde_urlencoded::to_string([
                                (
                                    "SAMLResponse",
                                    base64::engine::general_purpose::STANDARD.encode(xml),
                                ),
                                ("RelayState", request.relay_state.clone()),
                            ])
                            .unwrap();
                            Post {
                                body,
                                cookie: request.cookie.clone(),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

fn fresh_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

/// An Okta-shaped Response for `member`, the Assertion signed and then the
/// Response around it (exclusive C14N lets the Assertion be signed on its own).
fn okta_response(request: &Started, member: usize, key: &[u8], sp: &str, acs: &str) -> String {
    let now = Utc::now();
    let at = |offset: i64| (now + Span::seconds(offset)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (response_id, assertion_id) = (fresh_id(), fresh_id());
    let in_response_to = &request.request_id;
    let email = format!("member{member}@bench.test");
    let attribute = |name: &str, value: &str| {
        format!(
            r#"<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"><saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:string">{value}</saml:AttributeValue></saml:Attribute>"#
        )
    };
    let assertion = format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Version="2.0" ID="{assertion_id}" IssueInstant="{now}"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{IDP}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{acs}" InResponseTo="{in_response_to}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="{session}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{email_attribute}{first}{last}</saml:AttributeStatement></saml:Assertion>"#,
        now = at(0),
        before = at(-60),
        until = at(600),
        signature = signature_template(&assertion_id),
        session = fresh_id(),
        email_attribute = attribute("email", &email),
        first = attribute("firstName", "Member"),
        last = attribute("lastName", &member.to_string()),
    );
    let assertion = sign(&assertion, key);
    let response = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="{response_id}" InResponseTo="{in_response_to}" Version="2.0" IssueInstant="{now}" Destination="{acs}"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{IDP}</saml:Issuer>{signature}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#,
        now = at(0),
        signature = signature_template(&response_id),
    );
    sign(&response, key)
}

/// An enveloped RSA-SHA256 signature over the element `id`, values to fill.
fn signature_template(id: &str) -> String {
    format!(
        r##"<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"##
    )
}

/// Fills the first signature template of `xml`; the XML declaration is dropped
/// so the result can be embedded.
fn sign(xml: &str, key: &[u8]) -> String {
    let signed = Crypto::sign_xml(xml, key).expect("sign with the test IdP's key");
    match signed.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").unwrap().1.trim_start().to_string(),
        None => signed,
    }
}

/// The latencies of a pass, and how many answers were not a sign-in.
#[derive(Default)]
struct Run {
    elapsed: Duration,
    latencies: Vec<Duration>,
    refused: usize,
    first_refusal: Option<String>,
}

impl Run {
    fn print(&self, label: &str, count: usize, server_ticks: u64) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = |q: f64| sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)];
        let hz = 100.0; // USER_HZ on Linux
        let cpu_us = server_ticks as f64 / hz * 1e6 / count as f64;
        println!(
            "    {:<32}{:>10.2} req/s   p50 {:<9} p99 {:<9} server CPU {cpu_us:4.0} µs/req{}",
            label,
            count as f64 / self.elapsed.as_secs_f64(),
            millis(at(0.5)),
            millis(at(0.99)),
            if self.refused > 0 {
                format!("  non-sign-in: {}", self.refused)
            } else {
                String::new()
            }
        );
        if let Some(first) = &self.first_refusal {
            println!("    first answer that was not a sign-in: {first}");
        }
    }
}

fn millis(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}

/// Posts every response to the ACS, eight at a time.
async fn post_all(client: &reqwest::Client, acs: &str, posts: &[Post]) -> Run {
    let posts: Arc<Vec<(String, String)>> = Arc::new(
        posts
            .iter()
            .map(|p| (p.body.clone(), p.cookie.clone()))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let begun = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, next, posts, acs) =
                (client.clone(), next.clone(), posts.clone(), acs.to_string());
            tokio::spawn(async move {
                let (mut latencies, mut refused, mut first) = (Vec::new(), 0, None);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((body, cookie)) = posts.get(i) else {
                        break;
                    };
                    let sent = Instant::now();
                    let response = client
                        .post(&acs)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .header("Cookie", cookie)
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let signed_in = status == reqwest::StatusCode::SEE_OTHER
                        && response.headers().get_all("set-cookie").iter().count() > 0;
                    let text = response.text().await.unwrap_or_default();
                    latencies.push(sent.elapsed());
                    if !signed_in {
                        refused += 1;
                        first.get_or_insert_with(|| format!("{status}: {}", refusal(&text)));
                    }
                }
                (latencies, refused, first)
            })
        })
        .collect();
    let mut run = Run::default();
    for task in tasks {
        let (latencies, refused, first) = task.await.unwrap();
        run.latencies.extend(latencies);
        run.refused += refused;
        run.first_refusal = run.first_refusal.or(first);
    }
    run.elapsed = begun.elapsed();
    run
}

/// The diagnosis code on a "sign-in failed" page, or the page's start.
fn refusal(page: &str) -> String {
    page.split_whitespace()
        .find(|w| w.contains('_') && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_string)
        .unwrap_or_else(|| page.chars().take(200).collect())
}
