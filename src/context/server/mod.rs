//! The server context: `AcceptSecurityContext` for DIGEST-MD5 on the SASL path
//! (RFC 2831 §2.1.1 challenge, §2.1.2 response check, §2.1.3 rspauth, §2.2
//! subsequent authentication).
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
//!
//! Where the server decides: [`ServerContext::step`] checks a response against the
//! [`ServerPolicy`] (digest-uri, qop, cipher, realm) and the user's secret; a
//! reauthentication first claims its nonce-count in the [`ReauthStore`]
//! ([`reauth`]).

mod config;
pub mod reauth;

pub use config::{CredentialStore, ServerConfig, ServerPolicy, StoredSecret};
pub use reauth::{ReauthCache, ReauthStore};

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Established, Negotiated, Step, Target};
use crate::digest::{self, DigestInput, Secret, SessionKey};
use crate::error::{
    ConfigError, DirectiveName, Downgrade, Error, InvalidReason, Misuse, ParseError, TargetError,
};
use crate::layer::{self, Sealer, Unsealer};
use crate::params::maxbuf_in_range;
use crate::wire::{rspauth_token, Challenge, Response, MAX_CHALLENGE_LEN};
use crate::{CipherSet, Qop, Side};
use reauth::{ReauthAttempt, ReauthBinding};

#[derive(Debug)]
enum State {
    /// No challenge sent yet (a token now is a client-first reauthentication).
    Initial,
    /// The challenge with this nonce was sent.
    AwaitResponse {
        nonce: Vec<u8>,
    },
    /// The response was verified.
    Established(Established),
    Failed,
}

/// A DIGEST-MD5 server context, driven like `AcceptSecurityContext`.
pub struct ServerContext {
    config: ServerConfig,
    store: Box<dyn CredentialStore>,
    reauth: Arc<dyn ReauthStore>,
    state: State,
}

impl fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerContext")
            .field("config", &self.config)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ServerContext {
    /// Checks the configuration and creates a context.
    pub fn new(config: ServerConfig, store: impl CredentialStore + 'static) -> Result<Self, Error> {
        let policy = &config.policy;
        if !maxbuf_in_range(policy.maxbuf) {
            return Err(ConfigError::MaxBufOutOfRange(policy.maxbuf).into());
        }
        if policy.qops.is_empty() {
            return Err(ConfigError::NoQopToOffer.into());
        }
        if policy.qops.contains(Qop::AuthConf) && policy.offered_ciphers().is_empty() {
            return Err(ConfigError::NoCipherToOffer.into());
        }
        Ok(ServerContext {
            reauth: config.reauth_store(),
            config,
            store: Box::new(store),
            state: State::Initial,
        })
    }

    /// Advances the exchange.
    ///
    /// - `None` at the start: returns [`Step::Continue`] with the challenge.
    /// - The client's response: verifies it and returns [`Step::Complete`] with the
    ///   `rspauth` token, or [`Error::LogonDenied`].
    /// - A client-first response at the start or on an established context: a
    ///   reauthentication. Accepted with `rspauth` when its nonce is known to the
    ///   [`ReauthStore`] and its `nc` is the next one; otherwise the answer is
    ///   [`Step::Continue`] with a fresh `stale=true` challenge.
    ///
    /// Any error fails the context, except [`Error::TokenRequired`].
    pub fn step(&mut self, input: Option<&[u8]>) -> Result<Step, Error> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let (state, result) = match (state, input) {
            (State::Initial, None) => self.challenge(false),
            (State::Initial | State::Established(_), Some(tok)) => self.check_reauthentication(tok),
            (s @ State::AwaitResponse { .. }, None) => (s, Err(Error::TokenRequired)),
            (State::AwaitResponse { nonce }, Some(tok)) => self.check_response(tok, &nonce),
            (s @ State::Established(_), None) => (s, Err(Misuse::Established.into())),
            (State::Failed, _) => (State::Failed, Err(Misuse::Failed.into())),
        };
        self.state = state;
        result
    }

    fn challenge(&mut self, stale: bool) -> (State, Result<Step, Error>) {
        let nonce = match config::nonce(&self.config) {
            Ok(n) => n,
            Err(e) => return (State::Failed, Err(e)),
        };
        let policy = &self.config.policy;
        let c = Challenge {
            realms: policy.realms.clone(),
            nonce: nonce.clone(),
            qops: policy.qops,
            ciphers: if policy.qops.contains(Qop::AuthConf) {
                policy.offered_ciphers()
            } else {
                CipherSet::EMPTY
            },
            stale,
            maxbuf: policy.maxbuf,
            utf8: self.config.utf8,
        };
        let bytes = c.to_bytes();
        if bytes.len() > MAX_CHALLENGE_LEN {
            return (
                State::Failed,
                Err(ConfigError::ChallengeTooLong(bytes.len()).into()),
            );
        }
        (State::AwaitResponse { nonce }, Ok(Step::Continue(bytes)))
    }

    /// The response to our challenge (a first authentication, nc=1).
    fn check_response(&mut self, tok: &[u8], nonce: &[u8]) -> (State, Result<Step, Error>) {
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
        match self.verify(&r) {
            Ok(verified) => {
                self.reauth.record(&r.nonce, binding_of(&r), &r.cnonce);
                self.established(r, verified)
            }
            Err(e) => (State::Failed, Err(e)),
        }
    }

    /// A client-first response: a subsequent authentication (RFC 2831 §2.2).
    fn check_reauthentication(&mut self, tok: &[u8]) -> (State, Result<Step, Error>) {
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
        if self.reauth.reserve(&r.nonce, &attempt).is_err() {
            return self.challenge(true);
        }
        match self.verify(&r) {
            Ok(verified) => {
                self.reauth.commit(&r.nonce, r.nc, &r.cnonce);
                self.established(r, verified)
            }
            Err(e) => {
                self.reauth.release(&r.nonce, r.nc);
                (State::Failed, Err(e))
            }
        }
    }

    fn established(
        &mut self,
        r: Response,
        (key, rspauth): (SessionKey, Zeroizing<[u8; 32]>),
    ) -> (State, Result<Step, Error>) {
        let negotiated = Negotiated {
            ssf: super::ssf(r.qop, r.cipher),
            username: r.username,
            realm: r.realm,
            authzid: r.authzid,
            qop: r.qop,
            cipher: r.cipher,
            mutual: true,
            own_maxbuf: self.config.policy.maxbuf,
            peer_maxbuf: r.maxbuf,
            nc: r.nc,
        };
        (
            State::Established(Established::new(key, negotiated)),
            Ok(Step::Complete(Some(rspauth_token(&rspauth)))),
        )
    }

    fn verify(&self, r: &Response) -> Result<(SessionKey, Zeroizing<[u8; 32]>), Error> {
        let cfg = &self.config;
        let policy = &cfg.policy;
        let target = Target::parse(&r.digest_uri)?;
        if !target.service().eq_ignore_ascii_case(&cfg.service) {
            return Err(TargetError::OtherService.into());
        }
        if !policy.any_host
            && !cfg
                .hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(target.host()))
        {
            return Err(TargetError::OtherHost.into());
        }
        if !policy.qops.contains(r.qop) {
            return Err(Downgrade::QopNotOffered(r.qop).into());
        }
        if let Some(c) = r.cipher {
            if !policy.offered_ciphers().contains(c) {
                return Err(Downgrade::CipherNotOffered(c).into());
            }
            // The layer could never be installed (DES/3DES with a maxbuf below 22).
            if !layer::carries_plaintext(Some(c), r.maxbuf) {
                return Err(Error::Layer(layer::LayerError::PeerMaxBufOutOfRange(
                    r.maxbuf,
                )));
            }
            if !layer::carries_plaintext(Some(c), policy.maxbuf) {
                return Err(ConfigError::MaxBufTooSmallForBlockCipher(policy.maxbuf).into());
            }
        }
        if let Some(realm) = &r.realm {
            if !policy.any_realm && !policy.realms.is_empty() && !policy.realms.contains(realm) {
                return Err(ParseError::InvalidValue {
                    directive: DirectiveName::Realm,
                    reason: InvalidReason::RealmNotOffered,
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
        self.negotiated().is_some()
    }

    /// What was negotiated, including who authenticated and the authzid they asked for
    /// (the authorization decision is the caller's): `Some` once established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        match &self.state {
            State::Established(done) => Some(done.negotiated()),
            _ => None,
        }
    }

    /// The security layer of an established `auth-int`/`auth-conf` context, split into
    /// its halves; once per authentication.
    pub fn security_layer(&mut self) -> Result<(Sealer, Unsealer), Error> {
        match &mut self.state {
            State::Established(done) => done.take_layer(Side::Server),
            _ => Err(Misuse::NotEstablished.into()),
        }
    }
}

fn binding_of(r: &Response) -> ReauthBinding {
    ReauthBinding {
        username: r.username.clone(),
        realm: r.realm.clone(),
        authzid: r.authzid.clone(),
        digest_uri: r.digest_uri.clone(),
        qop: r.qop,
        cipher: r.cipher,
    }
}
