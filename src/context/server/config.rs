//! What a server is configured with: the service it is, what it offers and accepts
//! ([`ServerPolicy`]), and where users' secrets come from ([`CredentialStore`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::reauth::{ReauthCache, ReauthStore};
use crate::digest::Secret;
use crate::error::Error;
use crate::{CipherSet, Qop, QopSet, MAXBUF_DEFAULT};

/// What the server knows about a user.
#[derive(Clone)]
pub enum StoredSecret {
    /// The plaintext password.
    Password(Zeroizing<String>),
    /// H({username:realm:password}), bound to the realm it was computed with.
    Secret(Secret),
}

impl StoredSecret {
    /// A password.
    pub fn password(p: impl Into<String>) -> Self {
        StoredSecret::Password(Zeroizing::new(p.into()))
    }
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredSecret(<redacted>)")
    }
}

/// Looks up a user's secret by username and realm (`""` when the client sent none).
pub trait CredentialStore: Send + Sync {
    /// `None`: no such user (the client gets the same failure as for a wrong password).
    fn lookup(&self, username: &str, realm: &str) -> Option<StoredSecret>;
}

impl<F: Fn(&str, &str) -> Option<StoredSecret> + Send + Sync> CredentialStore for F {
    fn lookup(&self, username: &str, realm: &str) -> Option<StoredSecret> {
        self(username, realm)
    }
}

/// What a server offers and accepts. Part of every [`ServerConfig`] (set it whole with
/// [`ServerConfig::policy`] or piecewise with the builder methods), and the rsasl
/// mechanism's server property
/// ([`DigestServerPolicy`](crate::mechanism::DigestServerPolicy)).
///
/// ```
/// use sasl_digest_md5::{CipherSet, Qop, QopSet, ServerPolicy};
/// // Every qop, with the strong ciphers only (rc4, 3des):
/// let p = ServerPolicy::offer_layers();
/// assert_eq!((p.qops, p.ciphers), (QopSet::ALL, CipherSet::STRONG));
/// // Nothing but auth-conf:
/// let p = ServerPolicy::require_confidentiality();
/// assert_eq!(p.qops, QopSet::only(Qop::AuthConf));
/// ```
#[derive(Debug, Clone)]
pub struct ServerPolicy {
    /// Realms to offer, in order. A response naming a realm that was not offered is
    /// refused (`Malformed(InvalidValue { directive: DirectiveName::Realm, .. })`) unless
    /// `any_realm`; a response without a realm is looked up with realm `""`.
    pub realms: Vec<String>,
    /// Accept whatever realm the client sends, offered or not (some clients send a
    /// default realm of their own). The credential store still sees that realm.
    pub any_realm: bool,
    /// Qops to offer (default `auth` only).
    pub qops: QopSet,
    /// Ciphers to offer with `auth-conf` (default [`CipherSet::STRONG`]: rc4 and 3des).
    /// Naming a weaker cipher here is how it is allowed.
    ///
    /// RFC 2831 does not cover `cipher` with the digest: a man in the middle can
    /// rewrite the client's choice to any cipher offered here, so offer only what you
    /// are content to be downgraded to.
    pub ciphers: CipherSet,
    /// Neither offer nor accept a cipher weaker than this many bits (default 0: the
    /// `ciphers` named).
    pub min_cipher_strength: u32,
    /// Our receive buffer size (17..=16777215, default 65536).
    pub maxbuf: u32,
    /// Accept any host in the digest-uri (only the service is checked), as Cyrus SASL
    /// does.
    pub any_host: bool,
    /// Where the nonces that clients may reauthenticate with are kept
    /// ([`ReauthCache`], or any other [`ReauthStore`]); `None`: a cache private to
    /// each context (16 nonces, 10 minutes), which serves reauthentication on the same
    /// connection only.
    pub reauth_cache: Option<Arc<dyn ReauthStore>>,
}

impl Default for ServerPolicy {
    /// qop `auth` only (rc4 and 3des once `auth-conf` is added), no realm, maxbuf
    /// 65536, a private reauthentication cache.
    fn default() -> Self {
        ServerPolicy {
            realms: Vec::new(),
            any_realm: false,
            qops: QopSet::only(Qop::Auth),
            ciphers: CipherSet::STRONG,
            min_cipher_strength: 0,
            maxbuf: MAXBUF_DEFAULT,
            any_host: false,
            reauth_cache: None,
        }
    }
}

impl ServerPolicy {
    /// Offer every qop, with the strong ciphers (rc4, 3des) for `auth-conf`: the
    /// client's policy decides.
    pub fn offer_layers() -> Self {
        ServerPolicy {
            qops: QopSet::ALL,
            ..ServerPolicy::default()
        }
    }

    /// Offer `auth-conf` only, with rc4 and 3des.
    pub fn require_confidentiality() -> Self {
        ServerPolicy {
            qops: QopSet::only(Qop::AuthConf),
            ..ServerPolicy::default()
        }
    }

    /// The ciphers actually offered: the configured set above the strength floor.
    pub(super) fn offered_ciphers(&self) -> CipherSet {
        self.ciphers
            .iter()
            .filter(|c| c.strength() >= self.min_cipher_strength)
            .collect()
    }
}

/// Everything a server context needs: the service it is, and its [`ServerPolicy`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub(super) service: String,
    pub(super) hosts: Vec<String>,
    pub(super) utf8: bool,
    pub(super) policy: ServerPolicy,
    pub(super) fixed_nonce: Option<Vec<u8>>,
}

impl ServerConfig {
    /// Serves `service` on `host`: the client's digest-uri must be `service/host`.
    /// With the default [`ServerPolicy`]: qop `auth` only (and, once `auth-conf` is
    /// among the qops, the ciphers [`CipherSet::STRONG`]: rc4 and 3des), no realm,
    /// maxbuf 65536, a private reauthentication cache (16 nonces, 10 minutes, up to
    /// nc=256 each); and `charset=utf-8`.
    pub fn new(service: &str, host: &str) -> Self {
        ServerConfig {
            service: service.to_owned(),
            hosts: vec![host.to_owned()],
            utf8: true,
            policy: ServerPolicy::default(),
            fixed_nonce: None,
        }
    }

    /// The whole policy at once (replaces what the builder methods below set).
    pub fn policy(mut self, policy: ServerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Also accept digest-uris naming this host (aliases, IP addresses).
    pub fn also_host(mut self, host: &str) -> Self {
        self.hosts.push(host.to_owned());
        self
    }

    /// Accept any host in the digest-uri (only the service is checked), as Cyrus SASL
    /// does.
    pub fn any_host(mut self) -> Self {
        self.policy.any_host = true;
        self
    }

    /// Realms to offer, in order ([`ServerPolicy::realms`]).
    pub fn realms<I: IntoIterator<Item = S>, S: Into<String>>(mut self, realms: I) -> Self {
        self.policy.realms = realms.into_iter().map(Into::into).collect();
        self
    }

    /// Accept a realm that was not offered ([`ServerPolicy::any_realm`]).
    pub fn accept_any_realm(mut self) -> Self {
        self.policy.any_realm = true;
        self
    }

    /// The qops to offer.
    pub fn qops(mut self, qops: QopSet) -> Self {
        self.policy.qops = qops;
        self
    }

    /// The ciphers to offer with `auth-conf` ([`ServerPolicy::ciphers`]).
    pub fn ciphers(mut self, ciphers: CipherSet) -> Self {
        self.policy.ciphers = ciphers;
        self
    }

    /// Neither offer nor accept a cipher weaker than this many bits
    /// ([`ServerPolicy::min_cipher_strength`]).
    pub fn min_cipher_strength(mut self, bits: u32) -> Self {
        self.policy.min_cipher_strength = bits;
        self
    }

    /// Our receive buffer size (17..=16777215).
    pub fn maxbuf(mut self, n: u32) -> Self {
        self.policy.maxbuf = n;
        self
    }

    /// Whether to offer `charset=utf-8` (default true).
    pub fn utf8(mut self, on: bool) -> Self {
        self.utf8 = on;
        self
    }

    /// Where the nonces that clients may reauthenticate with are kept: a shared
    /// `Arc<ReauthCache>`, or any other [`ReauthStore`] (an `Arc<dyn ReauthStore>`
    /// too).
    pub fn reauth_cache(mut self, store: impl ReauthStore + 'static) -> Self {
        self.policy.reauth_cache = Some(Arc::new(store));
        self
    }

    /// **Testing only** (cargo feature `danger-fixed-nonces`): use this nonce instead
    /// of a random one (replaying recorded transcripts). A predictable nonce allows
    /// replay attacks.
    #[cfg(feature = "danger-fixed-nonces")]
    pub fn danger_fixed_nonce(mut self, nonce: impl Into<Vec<u8>>) -> Self {
        self.fixed_nonce = Some(nonce.into());
        self
    }

    /// The reauthentication store in force: the configured one, or a new private
    /// cache.
    pub(super) fn reauth_store(&self) -> Arc<dyn ReauthStore> {
        match &self.policy.reauth_cache {
            Some(store) => Arc::clone(store),
            None => ReauthCache::new(16, Duration::from_secs(600)),
        }
    }
}

/// A nonce from the OS CSPRNG, or the fixed test nonce.
pub(super) fn nonce(config: &ServerConfig) -> Result<Vec<u8>, Error> {
    match &config.fixed_nonce {
        Some(n) => Ok(n.clone()),
        None => crate::context::random_nonce(),
    }
}
