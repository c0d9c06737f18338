//! Slows repeated failed sign-ins, per account and per client address, so that
//! guessing passwords costs the guesser time.
//!
//! The counts live in the database (`sign_in_throttle`), so every instance
//! behind a load balancer sees the same failures: running N instances does not
//! give a guesser N times the attempts. Each failure is one atomic upsert per
//! key; a successful sign-in writes nothing unless its account had failures to
//! clear. The account and the address are separate keys: failures for one
//! account never slow another account, and an address that is slowed slows
//! only requests from that address.

use crate::entities::sign_in_throttle::{Column, Entity};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait};
use sea_orm::{QueryFilter, StatementBuilder};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How many failures a key may have in one window before it is slowed.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub account_failures: u32,
    pub address_failures: u32,
    pub window: Duration,
    /// The first wait; each further failure doubles it, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            account_failures: 5,
            address_failures: 20,
            window: Duration::from_secs(15 * 60),
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(15 * 60),
        }
    }
}

/// Stale rows are deleted at most this often per instance.
const PRUNE_EVERY_MS: i64 = 60_000;

/// One throttled thing: an account (by normalized email) or a client address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Account(String),
    Address(String),
}

impl Key {
    fn account(email: &str) -> Self {
        Key::Account(shared::validate::normalize_email(email))
    }

    /// An IPv6 client usually holds a whole /64, so that is what is counted.
    fn address(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Key::Address(v4.to_string()),
            IpAddr::V6(v6) => {
                let segments = v6.segments();
                let prefix = std::net::Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                );
                Key::Address(format!("{prefix}/64"))
            }
        }
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Key::Account(email) => ("account", email),
            Key::Address(address) => ("address", address),
        }
    }

    fn condition(&self) -> Condition {
        let (kind, key) = self.parts();
        Condition::all()
            .add(Column::Kind.eq(kind))
            .add(Column::Key.eq(key))
    }
}

/// What the throttle says before a password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// How long the account or the address must wait; `None` to go ahead.
    pub wait: Option<Duration>,
    /// Whether the account has failures a correct password should clear.
    account_has_failures: bool,
}

pub struct SignInThrottle {
    db: DatabaseConnection,
    policy: ThrottlePolicy,
    last_prune_ms: AtomicI64,
}

impl SignInThrottle {
    pub fn new(db: DatabaseConnection, policy: ThrottlePolicy) -> Self {
        Self {
            db,
            policy,
            last_prune_ms: AtomicI64::new(0),
        }
    }

    /// Whether this account, or this address, must wait before trying again.
    pub async fn check(&self, account: &str, address: Option<IpAddr>) -> Result<Standing, DbErr> {
        self.check_at(account, address, now_ms()).await
    }

    pub async fn record_failure(
        &self,
        account: &str,
        address: Option<IpAddr>,
    ) -> Result<(), DbErr> {
        self.record_failure_at(account, address, now_ms()).await
    }

    /// A correct password clears the account's count (not the address's: one
    /// client guessing many accounts stays slowed). Writes only when there is
    /// something to clear.
    pub async fn record_success(&self, account: &str, standing: Standing) -> Result<(), DbErr> {
        if !standing.account_has_failures {
            return Ok(());
        }
        Entity::delete_many()
            .filter(Key::account(account).condition())
            .exec(&self.db)
            .await
            .map(|_| ())
    }

    async fn check_at(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<Standing, DbErr> {
        let mut any = Condition::any();
        for key in keys(account, address) {
            any = any.add(key.condition());
        }
        let rows = Entity::find().filter(any).all(&self.db).await?;
        let wait = rows
            .iter()
            .map(|r| r.blocked_until_ms - now)
            .filter(|left| *left > 0)
            .max()
            .map(|left| Duration::from_millis(left as u64));
        Ok(Standing {
            wait,
            account_has_failures: rows.iter().any(|r| r.kind == "account"),
        })
    }

    async fn record_failure_at(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<(), DbErr> {
        for key in keys(account, address) {
            let limit = match key {
                Key::Account(_) => self.policy.account_failures,
                Key::Address(_) => self.policy.address_failures,
            };
            let failures = self.count_failure(&key, now).await?;
            if failures >= limit {
                let until = now + millis(delay(&self.policy, failures - limit));
                // Never shortens a wait another instance set meanwhile.
                Entity::update_many()
                    .col_expr(Column::BlockedUntilMs, Expr::value(until))
                    .filter(key.condition())
                    .filter(Column::BlockedUntilMs.lt(until))
                    .exec(&self.db)
                    .await?;
            }
        }
        self.prune(now).await
    }

    /// Adds one failure to the key in one statement, starting a new window when
    /// the last one is over and not blocking; returns the count in the window.
    async fn count_failure(&self, key: &Key, now: i64) -> Result<u32, DbErr> {
        // Scoped here: its `max`/`min` would shadow the integer ones elsewhere.
        use sea_orm::sea_query::ExprTrait;
        let (kind, value) = key.parts();
        let window_over = Expr::col((Entity, Column::WindowStartedMs))
            .lte(now - millis(self.policy.window))
            .and(Expr::col((Entity, Column::BlockedUntilMs)).lte(now));
        // Each SET reads the row as it was before this statement.
        let fresh_or = |fresh: Expr, kept: Expr| -> Expr {
            Expr::case(window_over.clone(), fresh).finally(kept).into()
        };
        let kept = |column: Column| Expr::col((Entity, column));
        let statement = Query::insert()
            .into_table(Entity)
            .columns([
                Column::Kind,
                Column::Key,
                Column::Failures,
                Column::WindowStartedMs,
                Column::BlockedUntilMs,
            ])
            .values_panic([
                kind.into(),
                value.into(),
                1i32.into(),
                now.into(),
                0i64.into(),
            ])
            .on_conflict(
                OnConflict::columns([Column::Kind, Column::Key])
                    .values([
                        (
                            Column::Failures,
                            fresh_or(Expr::val(1i32), kept(Column::Failures).add(1i32)),
                        ),
                        (
                            Column::WindowStartedMs,
                            fresh_or(Expr::val(now), kept(Column::WindowStartedMs)),
                        ),
                        (
                            Column::BlockedUntilMs,
                            fresh_or(Expr::val(0i64), kept(Column::BlockedUntilMs)),
                        ),
                    ])
                    .to_owned(),
            )
            .returning_col(Column::Failures)
            .to_owned();
        let row = self
            .db
            .query_one_raw(StatementBuilder::build(
                &statement,
                &self.db.get_database_backend(),
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("sign_in_throttle".into()))?;
        let failures: i32 = row.try_get("", "failures")?;
        Ok(u32::try_from(failures).unwrap_or(0))
    }

    /// Deletes rows whose window is over and that block nothing, at most once a
    /// minute per instance, so the table holds only recent failures.
    async fn prune(&self, now: i64) -> Result<(), DbErr> {
        let last = self.last_prune_ms.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY_MS
            || self
                .last_prune_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        Entity::delete_many()
            .filter(Column::WindowStartedMs.lte(now - millis(self.policy.window)))
            .filter(Column::BlockedUntilMs.lte(now))
            .exec(&self.db)
            .await
            .map(|_| ())
    }
}

/// The wait after `extra_failures` failures past the limit: doubling, capped.
fn delay(policy: &ThrottlePolicy, extra_failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(extra_failures.min(16));
    policy
        .base_delay
        .saturating_mul(factor)
        .min(policy.max_delay)
}

fn keys(account: &str, address: Option<IpAddr>) -> impl Iterator<Item = Key> {
    std::iter::once(Key::account(account)).chain(address.map(Key::address))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    /// A throttle over a fresh, migrated SQLite file.
    async fn throttle() -> (SignInThrottle, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        (SignInThrottle::new(db, ThrottlePolicy::default()), dir)
    }

    async fn wait(
        t: &SignInThrottle,
        account: &str,
        address: Option<IpAddr>,
        now: i64,
    ) -> Option<Duration> {
        t.check_at(account, address, now).await.unwrap().wait
    }

    #[tokio::test]
    async fn account_is_slowed_after_its_limit_and_the_wait_grows() {
        let (t, _dir) = throttle().await;
        let now = 1_000 * MINUTE;
        for i in 0..4 {
            t.record_failure_at("Ada@acme.test", ip(i), now)
                .await
                .unwrap();
            assert_eq!(wait(&t, "ada@acme.test", ip(99), now).await, None);
        }
        t.record_failure_at("ada@acme.test", ip(5), now)
            .await
            .unwrap();
        let first = wait(&t, "ADA@acme.test", ip(99), now).await;
        assert_eq!(first, Some(Duration::from_secs(30)));
        t.record_failure_at("ada@acme.test", ip(6), now)
            .await
            .unwrap();
        let second = wait(&t, "ada@acme.test", ip(99), now).await;
        assert_eq!(second, Some(Duration::from_secs(60)));
        assert_eq!(wait(&t, "ada@acme.test", ip(99), now + MINUTE).await, None);
    }

    #[tokio::test]
    async fn address_is_slowed_across_accounts_but_only_that_address() {
        let (t, _dir) = throttle().await;
        let now = 1_000 * MINUTE;
        for i in 0..20 {
            t.record_failure_at(&format!("user{i}@acme.test"), ip(1), now)
                .await
                .unwrap();
        }
        assert!(wait(&t, "someone-new@acme.test", ip(1), now)
            .await
            .is_some());
        assert_eq!(wait(&t, "someone-new@acme.test", ip(2), now).await, None);
        // The accounts themselves had one failure each: not slowed elsewhere.
        assert_eq!(wait(&t, "user1@acme.test", ip(2), now).await, None);
    }

    #[tokio::test]
    async fn success_clears_the_account_and_old_failures_expire() {
        let (t, _dir) = throttle().await;
        let now = 1_000 * MINUTE;
        for _ in 0..4 {
            t.record_failure_at("ada@acme.test", None, now)
                .await
                .unwrap();
        }
        let standing = t.check_at("ada@acme.test", None, now).await.unwrap();
        assert!(standing.account_has_failures);
        t.record_success("ada@acme.test", standing).await.unwrap();
        t.record_failure_at("ada@acme.test", None, now)
            .await
            .unwrap();
        assert_eq!(wait(&t, "ada@acme.test", None, now).await, None);

        let later = now + 16 * MINUTE;
        for _ in 0..4 {
            t.record_failure_at("bob@acme.test", None, now)
                .await
                .unwrap();
        }
        t.record_failure_at("bob@acme.test", None, later)
            .await
            .unwrap();
        assert_eq!(wait(&t, "bob@acme.test", None, later).await, None);
    }

    #[tokio::test]
    async fn stale_rows_are_pruned() {
        let (t, _dir) = throttle().await;
        let now = 1_000 * MINUTE;
        t.record_failure_at("old@acme.test", ip(1), now)
            .await
            .unwrap();
        t.record_failure_at("new@acme.test", ip(2), now + 20 * MINUTE)
            .await
            .unwrap();
        let left: Vec<String> = Entity::find()
            .all(&t.db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.contains(&"new@acme.test".to_string()), "{left:?}");
        assert!(left.contains(&"10.0.0.2".to_string()), "{left:?}");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(Key::address(a), Key::address(b));
        assert_eq!(Key::address(a).parts().1, "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(Key::address(mapped).parts().1, "192.0.2.1");
    }

    #[test]
    fn delay_is_capped() {
        let policy = ThrottlePolicy::default();
        assert_eq!(delay(&policy, 0), Duration::from_secs(30));
        assert_eq!(delay(&policy, 40), Duration::from_secs(15 * 60));
    }
}
