//! Slows repeated failed sign-ins, per account and per client address, so that
//! guessing passwords costs the guesser time. Kept in memory: each instance
//! throttles what it sees.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    first_failure: Instant,
    blocked_until: Option<Instant>,
}

/// Entries past this many are pruned of stale ones, so memory stays bounded.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct SignInThrottle {
    policy: ThrottlePolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

impl SignInThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::default(),
        }
    }

    /// `Err(wait)` when this account or address must wait before trying again.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        self.check_at(account, address, Instant::now())
    }

    pub fn record_failure(&self, account: &str, address: Option<IpAddr>) {
        self.record_failure_at(account, address, Instant::now());
    }

    /// A correct password clears the account's count (not the address's: one
    /// client guessing many accounts stays slowed).
    pub fn record_success(&self, account: &str) {
        self.lock().remove(&account_key(account));
    }

    fn check_at(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let entries = self.lock();
        let wait = keys(account, address)
            .filter_map(|key| entries.get(&key)?.blocked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    fn record_failure_at(&self, account: &str, address: Option<IpAddr>, now: Instant) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            let window = self.policy.window;
            entries.retain(|_, e| now.duration_since(e.first_failure) < window);
        }
        for key in keys(account, address) {
            let limit = if key.starts_with("ip:") {
                self.policy.address_failures
            } else {
                self.policy.account_failures
            };
            let entry = entries.entry(key).or_insert(Entry {
                failures: 0,
                first_failure: now,
                blocked_until: None,
            });
            if now.duration_since(entry.first_failure) >= self.policy.window {
                *entry = Entry {
                    failures: 0,
                    first_failure: now,
                    blocked_until: None,
                };
            }
            entry.failures += 1;
            if entry.failures >= limit {
                entry.blocked_until = Some(now + self.delay(entry.failures - limit));
            }
        }
    }

    fn delay(&self, extra_failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(extra_failures.min(16));
        self.policy
            .base_delay
            .saturating_mul(factor)
            .min(self.policy.max_delay)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves plain counters behind: safe to reuse.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn account_key(account: &str) -> String {
    format!("account:{}", shared::validate::normalize_email(account))
}

fn keys(account: &str, address: Option<IpAddr>) -> impl Iterator<Item = String> {
    std::iter::once(account_key(account)).chain(address.map(|ip| format!("ip:{ip}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn account_is_slowed_after_its_limit_and_the_wait_grows() {
        let t = SignInThrottle::default();
        let now = Instant::now();
        for i in 0..4 {
            t.record_failure_at("Ada@acme.test", ip(i), now);
            assert!(t.check_at("ada@acme.test", ip(99), now).is_ok());
        }
        t.record_failure_at("ada@acme.test", ip(5), now);
        let first = t.check_at("ADA@acme.test", ip(99), now).unwrap_err();
        assert_eq!(first, Duration::from_secs(30));
        t.record_failure_at("ada@acme.test", ip(6), now);
        let second = t.check_at("ada@acme.test", ip(99), now).unwrap_err();
        assert_eq!(second, Duration::from_secs(60));
        assert!(t.check_at("ada@acme.test", ip(99), now + second).is_ok());
    }

    #[test]
    fn address_is_slowed_across_accounts() {
        let t = SignInThrottle::default();
        let now = Instant::now();
        for i in 0..20 {
            t.record_failure_at(&format!("user{i}@acme.test"), ip(1), now);
        }
        assert!(t.check_at("someone-new@acme.test", ip(1), now).is_err());
        assert!(t.check_at("someone-new@acme.test", ip(2), now).is_ok());
    }

    #[test]
    fn success_clears_the_account_and_old_failures_expire() {
        let t = SignInThrottle::default();
        let now = Instant::now();
        for _ in 0..4 {
            t.record_failure_at("ada@acme.test", None, now);
        }
        t.record_success("ada@acme.test");
        t.record_failure_at("ada@acme.test", None, now);
        assert!(t.check_at("ada@acme.test", None, now).is_ok());

        let later = now + Duration::from_secs(16 * 60);
        for _ in 0..4 {
            t.record_failure_at("bob@acme.test", None, now);
        }
        t.record_failure_at("bob@acme.test", None, later);
        assert!(t.check_at("bob@acme.test", None, later).is_ok());
    }

    #[test]
    fn delay_is_capped() {
        let t = SignInThrottle::default();
        assert_eq!(t.delay(40), Duration::from_secs(15 * 60));
    }
}
