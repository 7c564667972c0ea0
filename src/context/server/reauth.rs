//! Server-side state for subsequent authentication (RFC 2831 §2.2): which nonces a
//! client may reauthenticate with, the last nonce-count accepted for each, and every
//! cnonce used with it.
//!
//! [`ReauthStore`] is the interface; [`ReauthCache`] is the in-memory implementation
//! every [`ServerConfig`](crate::ServerConfig) gets by default. A server farm can back
//! the trait with a shared store, as long as [`ReauthStore::reserve`] is one atomic
//! step there too.
//!
//! # The protocol a server context follows
//! 1. After a first authentication (nc=1) succeeds: [`ReauthStore::record`].
//! 2. On a reauthentication response: [`ReauthStore::reserve`] checks *and* claims the
//!    next nonce-count in one atomic step, before the (possibly slow) credential lookup
//!    and proof check. Two connections presenting the same response at the same time
//!    cannot both get past this point.
//! 3. Proof checked: [`ReauthStore::commit`]; proof wrong: [`ReauthStore::release`], so
//!    that a forged response cannot lock the genuine client out.
//!
//! A refused reservation makes the server answer with a fresh `stale=true` challenge
//! (a full authentication), never with an acceptance.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::layer::primitives::backend::Md5;

use crate::{Cipher, Qop};

/// Who authenticated with a nonce, and for what: a reauthentication must present the
/// same values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReauthBinding {
    /// The authentication identity.
    pub username: String,
    /// The realm of the digest (`None`: none was sent).
    pub realm: Option<String>,
    /// The authorization identity, if one was sent.
    pub authzid: Option<String>,
    /// The digest-uri.
    pub digest_uri: String,
    /// The qop of the first authentication: a reauthentication keeps it.
    pub qop: Qop,
    /// The cipher of the first authentication (RFC 2831 does not cover `cipher` with
    /// the digest, so a man in the middle could otherwise rewrite it on
    /// reauthentication): a reauthentication keeps it.
    pub cipher: Option<Cipher>,
}

impl ReauthBinding {
    /// The qop and cipher as one token (`auth`, `auth-int`, `auth-conf/rc4`), for
    /// stores that keep the binding as text.
    pub fn protection(&self) -> String {
        match self.cipher {
            Some(c) => format!("{}/{}", self.qop, c),
            None => self.qop.to_string(),
        }
    }
}

/// A reauthentication as the server received it.
#[derive(Debug, Clone, Copy)]
pub struct ReauthAttempt<'a> {
    /// Who it claims to be; must equal the recorded binding.
    pub binding: &'a ReauthBinding,
    /// Its nonce-count; must be the last accepted one plus one.
    pub nc: u32,
    /// Its cnonce.
    pub cnonce: &'a [u8],
    /// Whether it asks for a security layer (`auth-int`, `auth-conf`): then its cnonce
    /// must never have been used with this nonce, or every key would repeat.
    pub layer: bool,
}

/// Why a store did not reserve a reauthentication. The server answers each with a
/// `stale=true` challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReauthRefusal {
    /// The nonce was never recorded, has expired, or was evicted.
    #[error("unknown or expired nonce")]
    UnknownNonce,
    /// The nonce-count is not the next one (a replay, or a lost message).
    #[error("nonce-count {got} where {expected} was due")]
    WrongNonceCount {
        /// The next acceptable nonce-count.
        expected: u32,
        /// The one presented.
        got: u32,
    },
    /// Username, realm, authzid, digest-uri, qop or cipher differ from the first
    /// authentication.
    #[error("the response does not match the authentication that issued the nonce")]
    BindingMismatch,
    /// The cnonce was already used with this nonce, and a security layer is asked for.
    #[error("cnonce already used with this nonce under a security layer")]
    RepeatedCnonce,
    /// Another connection is verifying a reauthentication with this nonce right now.
    #[error("another reauthentication with this nonce is in progress")]
    InFlight,
    /// The nonce has been used for as many reauthentications as the store allows.
    #[error("the nonce has reached the store's reauthentication limit")]
    Exhausted,
    /// The store could not be reached or did not answer in time.
    #[error("the reauthentication store is unavailable: {0}")]
    Unavailable(String),
}

/// Where a server keeps reauthentication state. Implementations must make
/// [`reserve`](ReauthStore::reserve) atomic with respect to every other call for the
/// same nonce, across every server that shares the store.
pub trait ReauthStore: Send + Sync + fmt::Debug {
    /// A first authentication with `nonce` succeeded (nc=1) with `cnonce`. Replaces any
    /// earlier state for the nonce.
    fn record(&self, nonce: &[u8], binding: ReauthBinding, cnonce: &[u8]);

    /// Checks a reauthentication and, when acceptable, claims its nonce-count: until
    /// [`commit`](ReauthStore::commit) or [`release`](ReauthStore::release), every other
    /// attempt with the nonce is refused.
    fn reserve(&self, nonce: &[u8], attempt: &ReauthAttempt<'_>) -> Result<(), ReauthRefusal>;

    /// The reserved attempt proved knowledge of the password: `nc` becomes the last
    /// accepted nonce-count and `cnonce` joins the used ones.
    fn commit(&self, nonce: &[u8], nc: u32, cnonce: &[u8]);

    /// The reserved attempt failed: forget the reservation, change nothing else.
    fn release(&self, nonce: &[u8], nc: u32);
}

/// A shared store is a store: `Arc<ReauthCache>` and `Arc<dyn ReauthStore>` can be
/// handed to [`ServerConfig::reauth_cache`](crate::ServerConfig::reauth_cache) as they
/// are.
impl<S: ReauthStore + ?Sized> ReauthStore for Arc<S> {
    fn record(&self, nonce: &[u8], binding: ReauthBinding, cnonce: &[u8]) {
        (**self).record(nonce, binding, cnonce)
    }
    fn reserve(&self, nonce: &[u8], attempt: &ReauthAttempt<'_>) -> Result<(), ReauthRefusal> {
        (**self).reserve(nonce, attempt)
    }
    fn commit(&self, nonce: &[u8], nc: u32, cnonce: &[u8]) {
        (**self).commit(nonce, nc, cnonce)
    }
    fn release(&self, nonce: &[u8], nc: u32) {
        (**self).release(nonce, nc)
    }
}

/// A fixed-size fingerprint of a cnonce (cnonces are up to a few KiB; the store keeps
/// one per reauthentication).
pub(crate) fn cnonce_id(cnonce: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(cnonce);
    h.finalize()
}

#[derive(Debug, Clone)]
struct CacheEntry {
    binding: ReauthBinding,
    nc: u32,
    cnonces: Vec<[u8; 16]>,
    in_flight: Option<u32>,
    expires: Instant,
}

/// The in-memory [`ReauthStore`]: bounded in entries and in reauthentications per
/// nonce, entries expire. Share one `Arc<ReauthCache>` among the server contexts of a
/// service so that a client can reauthenticate on a new connection.
#[derive(Debug)]
pub struct ReauthCache {
    entries: Mutex<HashMap<Vec<u8>, CacheEntry>>,
    capacity: usize,
    ttl: Duration,
    max_nc: u32,
}

/// Reauthentications allowed per nonce by default ([`ReauthCache::max_nonce_count`]).
pub const DEFAULT_MAX_NONCE_COUNT: u32 = 256;

impl ReauthCache {
    /// A cache of at most `capacity` nonces, each valid for `ttl` after its last use
    /// (any `Duration`, `Duration::MAX` included: an expiry past what the clock can
    /// represent means "never"), and each usable up to nc=256.
    pub fn new(capacity: usize, ttl: Duration) -> Arc<Self> {
        Arc::new(Self::with_limits(capacity, ttl, DEFAULT_MAX_NONCE_COUNT))
    }

    /// Like [`ReauthCache::new`], with the highest nonce-count accepted per nonce
    /// (at least 1; it also bounds the cnonces kept per nonce).
    pub fn with_limits(capacity: usize, ttl: Duration, max_nc: u32) -> Self {
        ReauthCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
            ttl,
            max_nc: max_nc.max(1),
        }
    }

    /// The highest nonce-count accepted per nonce.
    pub fn max_nonce_count(&self) -> u32 {
        self.max_nc
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Vec<u8>, CacheEntry>> {
        // A poisoned lock only means another thread panicked while holding it; every
        // update below leaves the map consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expiry(&self, now: Instant) -> Option<Instant> {
        // `None`: beyond what `Instant` can hold, i.e. never.
        now.checked_add(self.ttl)
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|e| e.expires > now).count()
    }

    /// Whether there is no live entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Far enough in the future to mean "never", for a ttl the clock cannot add.
fn far_future(now: Instant) -> Instant {
    // About 30 years; `checked_add` of this always succeeds on supported platforms,
    // and if it did not, `now` (expired at once) is the safe answer.
    now.checked_add(Duration::from_secs(30 * 365 * 24 * 3600))
        .unwrap_or(now)
}

impl ReauthStore for ReauthCache {
    fn record(&self, nonce: &[u8], binding: ReauthBinding, cnonce: &[u8]) {
        if self.capacity == 0 {
            return;
        }
        let now = Instant::now();
        let expires = self.expiry(now).unwrap_or_else(|| far_future(now));
        let mut m = self.lock();
        m.retain(|_, e| e.expires > now);
        while m.len() >= self.capacity && !m.contains_key(nonce) {
            let oldest = m
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => m.remove(&k),
                None => break,
            };
        }
        m.insert(
            nonce.to_vec(),
            CacheEntry {
                binding,
                nc: 1,
                cnonces: vec![cnonce_id(cnonce)],
                in_flight: None,
                expires,
            },
        );
    }

    fn reserve(&self, nonce: &[u8], a: &ReauthAttempt<'_>) -> Result<(), ReauthRefusal> {
        let now = Instant::now();
        let mut m = self.lock();
        let e = match m.get_mut(nonce) {
            Some(e) if e.expires > now => e,
            _ => return Err(ReauthRefusal::UnknownNonce),
        };
        if e.in_flight.is_some() {
            return Err(ReauthRefusal::InFlight);
        }
        let expected = e.nc.checked_add(1).ok_or(ReauthRefusal::Exhausted)?;
        if expected > self.max_nc {
            return Err(ReauthRefusal::Exhausted);
        }
        if a.nc != expected {
            return Err(ReauthRefusal::WrongNonceCount {
                expected,
                got: a.nc,
            });
        }
        if *a.binding != e.binding {
            return Err(ReauthRefusal::BindingMismatch);
        }
        if a.layer && e.cnonces.contains(&cnonce_id(a.cnonce)) {
            return Err(ReauthRefusal::RepeatedCnonce);
        }
        e.in_flight = Some(a.nc);
        Ok(())
    }

    fn commit(&self, nonce: &[u8], nc: u32, cnonce: &[u8]) {
        let now = Instant::now();
        let expires = self.expiry(now).unwrap_or_else(|| far_future(now));
        let mut m = self.lock();
        if let Some(e) = m.get_mut(nonce) {
            if e.in_flight == Some(nc) {
                e.in_flight = None;
                e.nc = nc;
                e.cnonces.push(cnonce_id(cnonce));
                e.expires = expires;
            }
        }
    }

    fn release(&self, nonce: &[u8], nc: u32) {
        let mut m = self.lock();
        if let Some(e) = m.get_mut(nonce) {
            if e.in_flight == Some(nc) {
                e.in_flight = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> ReauthBinding {
        ReauthBinding {
            username: "alice".into(),
            realm: Some("r".into()),
            authzid: None,
            digest_uri: "ldap/h".into(),
            qop: Qop::AuthInt,
            cipher: None,
        }
    }

    fn attempt<'a>(b: &'a ReauthBinding, nc: u32, cnonce: &'a [u8]) -> ReauthAttempt<'a> {
        ReauthAttempt {
            binding: b,
            nc,
            cnonce,
            layer: true,
        }
    }

    #[test]
    fn reserve_commit_release() {
        let c = ReauthCache::new(4, Duration::from_secs(60));
        let b = binding();
        c.record(b"n", b.clone(), b"c1");
        assert_eq!(c.reserve(b"n", &attempt(&b, 2, b"c2")), Ok(()));
        assert_eq!(
            c.reserve(b"n", &attempt(&b, 2, b"c2")),
            Err(ReauthRefusal::InFlight)
        );
        c.release(b"n", 2);
        assert_eq!(c.reserve(b"n", &attempt(&b, 2, b"c2")), Ok(()));
        c.commit(b"n", 2, b"c2");
        assert_eq!(
            c.reserve(b"n", &attempt(&b, 2, b"c3")),
            Err(ReauthRefusal::WrongNonceCount {
                expected: 3,
                got: 2
            })
        );
        // Every cnonce ever used is remembered, not only the last.
        for old in [&b"c1"[..], b"c2"] {
            assert_eq!(
                c.reserve(b"n", &attempt(&b, 3, old)),
                Err(ReauthRefusal::RepeatedCnonce)
            );
        }
        let other = ReauthBinding {
            authzid: Some("root".into()),
            ..binding()
        };
        assert_eq!(
            c.reserve(b"n", &attempt(&other, 3, b"c3")),
            Err(ReauthRefusal::BindingMismatch)
        );
        let rewritten = ReauthBinding {
            qop: Qop::AuthConf,
            cipher: Some(Cipher::Rc4_40),
            ..binding()
        };
        assert_eq!(
            c.reserve(b"n", &attempt(&rewritten, 3, b"c3")),
            Err(ReauthRefusal::BindingMismatch)
        );
        assert_eq!(
            c.reserve(b"x", &attempt(&b, 2, b"c3")),
            Err(ReauthRefusal::UnknownNonce)
        );
    }

    #[test]
    fn nonce_count_limit() {
        let c = ReauthCache::with_limits(4, Duration::from_secs(60), 2);
        let b = binding();
        c.record(b"n", b.clone(), b"c1");
        assert_eq!(c.reserve(b"n", &attempt(&b, 2, b"c2")), Ok(()));
        c.commit(b"n", 2, b"c2");
        assert_eq!(
            c.reserve(b"n", &attempt(&b, 3, b"c3")),
            Err(ReauthRefusal::Exhausted)
        );
    }

    #[test]
    fn huge_ttl_does_not_panic() {
        let c = ReauthCache::new(4, Duration::MAX);
        let b = binding();
        c.record(b"n", b.clone(), b"c1");
        assert_eq!(c.len(), 1);
        assert_eq!(c.reserve(b"n", &attempt(&b, 2, b"c2")), Ok(()));
        c.commit(b"n", 2, b"c2");
        assert_eq!(c.len(), 1);
    }
}
