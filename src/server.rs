//! The server context: `AcceptSecurityContext` for DIGEST-MD5 on the SASL path.
//!
//! ```
//! use sasl_digest_md5::{ServerConfig, ServerContext, StoredSecret, Step, QopSet};
//! let config = ServerConfig::new("ldap", "ldap.example.com").realms(["example.com"]);
//! let store = |user: &str, _realm: &str| (user == "alice").then(|| StoredSecret::password("secret"));
//! let mut server = ServerContext::new(config, store).unwrap();
//! let Step::Continue(challenge) = server.step(None).unwrap() else { unreachable!() };
//! assert!(challenge.starts_with(b"realm=\"example.com\",nonce="));
//! // ... send it, feed the client's response to `server.step(Some(..))`, which returns
//! // `Step::Complete(Some(rspauth))` when the password proof checks out.
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::challenge::Challenge;
use crate::client::Target;
use crate::digest::{self, DigestInput, Secret, SessionKey};
use crate::error::Error;
use crate::error::{ConfigError, Downgrade, Misuse, ParseError, TargetError};
use crate::layer::{self, Sealer, Unsealer};
pub use crate::reauth::ReauthCache;
use crate::reauth::{ReauthAttempt, ReauthBinding, ReauthStore};
use crate::response::{rspauth_token, Response};
use crate::{
    CipherSet, Negotiated, Qop, QopSet, Side, Step, MAXBUF_DEFAULT, MAXBUF_MAX,
    MAXBUF_MIN_EXCLUSIVE,
};

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

/// Server policy: what it serves and offers.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    service: String,
    hosts: Vec<String>,
    any_host: bool,
    realms: Vec<String>,
    any_realm: bool,
    qops: QopSet,
    ciphers: CipherSet,
    min_strength: u32,
    maxbuf: u32,
    utf8: bool,
    reauth: Arc<dyn ReauthStore>,
    fixed_nonce: Option<Vec<u8>>,
}

impl ServerConfig {
    /// Serves `service` on `host`: the client's digest-uri must be `service/host`. By
    /// default it offers qop `auth` only (and, once `auth-conf` is among the qops,
    /// the ciphers [`CipherSet::STRONG`]: rc4 and 3des), no realm, `charset=utf-8`,
    /// maxbuf 65536, and keeps a private reauthentication cache (16 nonces, 10
    /// minutes, up to nc=256 each).
    pub fn new(service: &str, host: &str) -> Self {
        ServerConfig {
            service: service.to_owned(),
            hosts: vec![host.to_owned()],
            any_host: false,
            realms: Vec::new(),
            any_realm: false,
            qops: QopSet::only(Qop::Auth),
            ciphers: CipherSet::STRONG,
            min_strength: 0,
            maxbuf: MAXBUF_DEFAULT,
            utf8: true,
            reauth: ReauthCache::new(16, Duration::from_secs(600)),
            fixed_nonce: None,
        }
    }

    /// Also accept digest-uris naming this host (aliases, IP addresses).
    pub fn also_host(mut self, host: &str) -> Self {
        self.hosts.push(host.to_owned());
        self
    }

    /// Accept any host in the digest-uri (only the service is checked), as Cyrus SASL
    /// does.
    pub fn any_host(mut self) -> Self {
        self.any_host = true;
        self
    }

    /// Realms to offer, in order. A response naming a realm that was not offered is
    /// refused (`Malformed(InvalidValue { directive: "realm", .. })`) unless
    /// [`ServerConfig::accept_any_realm`]; a response without a realm is looked up with
    /// realm `""`.
    pub fn realms<I: IntoIterator<Item = S>, S: Into<String>>(mut self, realms: I) -> Self {
        self.realms = realms.into_iter().map(Into::into).collect();
        self
    }

    /// Accept whatever realm the client sends, offered or not (some clients send a
    /// default realm of their own). The credential store still sees that realm.
    /// Without realms configured, any realm is accepted anyway.
    pub fn accept_any_realm(mut self) -> Self {
        self.any_realm = true;
        self
    }

    /// The qops to offer.
    pub fn qops(mut self, qops: QopSet) -> Self {
        self.qops = qops;
        self
    }

    /// The ciphers to offer with `auth-conf` (default [`CipherSet::STRONG`]: rc4 and
    /// 3des). Naming a weaker cipher here is how it is allowed.
    ///
    /// RFC 2831 does not cover `cipher` with the digest: a man in the middle can
    /// rewrite the client's choice to any cipher offered here, so offer only what
    /// you are content to be downgraded to.
    pub fn ciphers(mut self, ciphers: CipherSet) -> Self {
        self.ciphers = ciphers;
        self
    }

    /// Neither offer nor accept a cipher weaker than this many bits
    /// ([`Cipher::strength`](crate::Cipher::strength)); default 0, i.e. exactly the
    /// [`ciphers`](ServerConfig::ciphers) named.
    pub fn min_cipher_strength(mut self, bits: u32) -> Self {
        self.min_strength = bits;
        self
    }

    /// The ciphers actually offered: the configured set above the strength floor.
    fn offered_ciphers(&self) -> CipherSet {
        self.ciphers
            .iter()
            .filter(|c| c.strength() >= self.min_strength)
            .collect()
    }

    /// Our receive buffer size (17..=16777215).
    pub fn maxbuf(mut self, n: u32) -> Self {
        self.maxbuf = n;
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
        self.reauth = Arc::new(store);
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
}

#[derive(Debug)]
enum State {
    Initial,
    AwaitResponse { nonce: Vec<u8> },
    Established { key: SessionKey, layer_taken: bool },
    Failed,
}

/// A DIGEST-MD5 server context, driven like `AcceptSecurityContext`.
pub struct ServerContext {
    config: ServerConfig,
    store: Box<dyn CredentialStore>,
    state: State,
    negotiated: Option<Negotiated>,
}

impl fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerContext")
            .field("config", &self.config)
            .field("state", &self.state)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl ServerContext {
    /// Checks the configuration and creates a context.
    pub fn new(config: ServerConfig, store: impl CredentialStore + 'static) -> Result<Self, Error> {
        if config.maxbuf <= MAXBUF_MIN_EXCLUSIVE || config.maxbuf > MAXBUF_MAX {
            return Err(ConfigError::MaxBufOutOfRange(config.maxbuf).into());
        }
        if config.qops.is_empty() {
            return Err(ConfigError::NoQopToOffer.into());
        }
        if config.qops.contains(Qop::AuthConf) && config.offered_ciphers().is_empty() {
            return Err(ConfigError::NoCipherToOffer.into());
        }
        Ok(ServerContext {
            config,
            store: Box::new(store),
            state: State::Initial,
            negotiated: None,
        })
    }

    /// Advances the exchange.
    ///
    /// - `None` at the start: returns [`Step::Continue`] with the challenge.
    /// - The client's response: verifies it and returns [`Step::Complete`] with the
    ///   `rspauth` token, or [`Error::LogonDenied`].
    /// - A client-first response at the start or on an established context: a
    ///   reauthentication. Accepted with `rspauth` when its nonce is cached and its `nc`
    ///   is the next one; otherwise the answer is [`Step::Continue`] with a fresh
    ///   `stale=true` challenge.
    ///
    /// Any error fails the context, except [`Error::TokenRequired`].
    pub fn step(&mut self, input: Option<&[u8]>) -> Result<Step, Error> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let (state, result) = match (state, input) {
            (State::Initial, None) => self.challenge(false),
            (State::Initial | State::Established { .. }, Some(tok)) => self.reauth(tok),
            (s @ State::AwaitResponse { .. }, None) => (s, Err(Error::TokenRequired)),
            (State::AwaitResponse { nonce }, Some(tok)) => self.first(tok, &nonce),
            (s @ State::Established { .. }, None) => (s, Err(Misuse::Established.into())),
            (State::Failed, _) => (State::Failed, Err(Misuse::Failed.into())),
        };
        self.state = state;
        result
    }

    fn challenge(&mut self, stale: bool) -> (State, Result<Step, Error>) {
        let nonce = match &self.config.fixed_nonce {
            Some(n) => n.clone(),
            None => match crate::random_nonce() {
                Ok(n) => n,
                Err(e) => return (State::Failed, Err(e)),
            },
        };
        let c = Challenge {
            realms: self.config.realms.clone(),
            nonce: nonce.clone(),
            qops: self.config.qops,
            ciphers: if self.config.qops.contains(Qop::AuthConf) {
                self.config.offered_ciphers()
            } else {
                CipherSet::EMPTY
            },
            stale,
            maxbuf: self.config.maxbuf,
            utf8: self.config.utf8,
        };
        let bytes = c.to_bytes();
        if bytes.len() > crate::challenge::MAX_CHALLENGE_LEN {
            return (
                State::Failed,
                Err(ConfigError::ChallengeTooLong(bytes.len()).into()),
            );
        }
        (State::AwaitResponse { nonce }, Ok(Step::Continue(bytes)))
    }

    fn first(&mut self, tok: &[u8], nonce: &[u8]) -> (State, Result<Step, Error>) {
        let r = match Response::parse(tok) {
            Ok(r) => r,
            Err(e) => return (State::Failed, Err(e.into())),
        };
        if r.nonce != nonce {
            return (State::Failed, Err(Error::LogonDenied));
        }
        if r.nc != 1 {
            return (State::Failed, Err(Error::Stale));
        }
        self.accept(r)
    }

    fn reauth(&mut self, tok: &[u8]) -> (State, Result<Step, Error>) {
        let r = match Response::parse(tok) {
            Ok(r) => r,
            Err(e) => return (State::Failed, Err(e.into())),
        };
        let binding = binding_of(&r);
        let attempt = ReauthAttempt {
            binding: &binding,
            nc: r.nc,
            cnonce: &r.cnonce,
            layer: r.qop.has_layer(),
        };
        // Check and claim the nonce-count in one atomic step, before the (possibly
        // slow) credential lookup: a second connection presenting the same response
        // meanwhile is refused, not verified in parallel.
        if self.config.reauth.reserve(&r.nonce, &attempt).is_err() {
            return self.challenge(true);
        }
        match self.verify(&r) {
            Ok(verified) => {
                self.config.reauth.commit(&r.nonce, r.nc, &r.cnonce);
                self.established(r, verified)
            }
            Err(e) => {
                self.config.reauth.release(&r.nonce, r.nc);
                (State::Failed, Err(e))
            }
        }
    }

    fn accept(&mut self, r: Response) -> (State, Result<Step, Error>) {
        match self.verify(&r) {
            Ok(verified) => {
                self.config
                    .reauth
                    .record(&r.nonce, binding_of(&r), &r.cnonce);
                self.established(r, verified)
            }
            Err(e) => (State::Failed, Err(e)),
        }
    }

    fn established(
        &mut self,
        r: Response,
        (key, rspauth): (SessionKey, Zeroizing<[u8; 32]>),
    ) -> (State, Result<Step, Error>) {
        self.negotiated = Some(Negotiated {
            username: r.username,
            realm: r.realm,
            authzid: r.authzid,
            qop: r.qop,
            cipher: r.cipher,
            ssf: crate::ssf(r.qop, r.cipher),
            mutual: true,
            own_maxbuf: self.config.maxbuf,
            peer_maxbuf: r.maxbuf,
            nc: r.nc,
        });
        (
            State::Established {
                key,
                layer_taken: false,
            },
            Ok(Step::Complete(Some(rspauth_token(&rspauth)))),
        )
    }

    fn verify(&self, r: &Response) -> Result<(SessionKey, Zeroizing<[u8; 32]>), Error> {
        let cfg = &self.config;
        let target = Target::parse(&r.digest_uri)?;
        if !target.service().eq_ignore_ascii_case(&cfg.service) {
            return Err(TargetError::OtherService.into());
        }
        if !cfg.any_host
            && !cfg
                .hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(target.host()))
        {
            return Err(TargetError::OtherHost.into());
        }
        if !cfg.qops.contains(r.qop) {
            return Err(Error::DowngradeRefused(Downgrade::QopNotOffered(r.qop)));
        }
        if let Some(c) = r.cipher {
            if !cfg.offered_ciphers().contains(c) {
                return Err(Error::DowngradeRefused(Downgrade::CipherNotOffered(c)));
            }
            // The layer could never be installed (DES/3DES with a maxbuf below 22).
            if !layer::carries_plaintext(Some(c), r.maxbuf) {
                return Err(Error::Layer(layer::LayerError::PeerMaxBufOutOfRange(
                    r.maxbuf,
                )));
            }
            if !layer::carries_plaintext(Some(c), cfg.maxbuf) {
                return Err(ConfigError::MaxBufTooSmallForBlockCipher(cfg.maxbuf).into());
            }
        }
        if let Some(realm) = &r.realm {
            if !cfg.any_realm && !cfg.realms.is_empty() && !cfg.realms.contains(realm) {
                return Err(ParseError::InvalidValue {
                    directive: "realm",
                    reason: "not a realm the server offered",
                }
                .into());
            }
        }
        let realm = r.realm.as_deref().unwrap_or("");
        // An unknown user costs the same digest work as a wrong password (no timing
        // oracle for user names); `known` keeps the placeholder from ever matching.
        let (stored, known) = match self.store.lookup(&r.username, realm) {
            Some(s) => (s, true),
            None => (StoredSecret::Secret(Secret([0; 16])), false),
        };
        // Two candidates: each string down-converted to ISO-8859-1 where it can be
        // (RFC 2831, Cyrus, the JDK), and everything as raw UTF-8 (clients that hash
        // UTF-8). A stored secret is its own single candidate. Both are always
        // computed and compared, so the time taken says nothing about the password.
        let candidates: [Secret; 2] = match &stored {
            StoredSecret::Secret(s) => [s.clone(), s.clone()],
            StoredSecret::Password(p) => [
                digest::secret(&r.username, realm, p),
                digest::secret_raw(r.username.as_bytes(), realm.as_bytes(), p.as_bytes(), false),
            ],
        };
        let input = DigestInput {
            nonce: &r.nonce,
            cnonce: &r.cnonce,
            nc: r.nc,
            qop: r.qop,
            digest_uri: r.digest_uri.as_bytes(),
        };
        let authzid = r.authzid.as_deref().map(str::as_bytes);
        let keys = candidates.map(|s| digest::session_key(&s, &input, authzid));
        let proves = |k: &SessionKey| {
            digest::digest_eq(&digest::response_value(k, &input, false), &r.response)
        };
        let matches = [proves(&keys[0]) & known, proves(&keys[1]) & known];
        if let Some(key) = keys
            .into_iter()
            .zip(matches)
            .find_map(|(k, m)| m.then_some(k))
        {
            let rspauth = Zeroizing::new(digest::response_value(&key, &input, true));
            return Ok((key, rspauth));
        }
        Err(Error::LogonDenied)
    }

    /// Whether the context is established.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established { .. })
    }

    /// What was negotiated, including who authenticated and the authzid they asked for
    /// (the authorization decision is the caller's): `Some` once established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        match self.state {
            State::Established { .. } => self.negotiated.as_ref(),
            _ => None,
        }
    }

    /// The security layer of an established `auth-int`/`auth-conf` context, split into
    /// its halves; once per authentication.
    pub fn security_layer(&mut self) -> Result<(Sealer, Unsealer), Error> {
        let State::Established { key, layer_taken } = &mut self.state else {
            return Err(Misuse::NotEstablished.into());
        };
        let n = self
            .negotiated
            .as_ref()
            .ok_or(Error::OutOfSequence(Misuse::NotEstablished))?;
        if *layer_taken {
            return Err(Misuse::LayerAlreadyTaken.into());
        }
        let r = layer::establish(
            key.as_bytes(),
            n.qop,
            n.cipher,
            Side::Server,
            n.peer_maxbuf,
            n.own_maxbuf,
        )?;
        *layer_taken = true;
        Ok(r)
    }
}

fn binding_of(r: &Response) -> ReauthBinding {
    ReauthBinding {
        username: r.username.clone(),
        realm: r.realm.clone(),
        authzid: r.authzid.clone(),
        digest_uri: r.digest_uri.clone(),
    }
}
