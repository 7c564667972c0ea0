//! The client context: `InitializeSecurityContext` for DIGEST-MD5 on the SASL path
//! (RFC 2831 §2.1.2 response, §2.1.3 rspauth check, §2.2 subsequent authentication).
//!
//! ```
//! use sasl_digest_md5::{ClientConfig, ClientContext, Credential, Requirements, Step, Target};
//! let config = ClientConfig::new("alice", Credential::password("secret"), Target::new("ldap", "ldap.example.com").unwrap())
//!     .requirements(Requirements::MUTUAL_AUTH | Requirements::CONFIDENTIALITY);
//! let mut client = ClientContext::new(config).unwrap();
//! let challenge = br#"realm="example.com",nonce="OA6MG9tEQGm2hh",qop="auth,auth-conf",cipher="rc4,des",charset=utf-8,algorithm=md5-sess"#;
//! let Step::Continue(response) = client.step(Some(challenge)).unwrap() else { unreachable!() };
//! assert!(response.windows(9).any(|w| w == b"auth-conf"));
//! // ... send `response`, then feed the server's `rspauth=...` to `client.step` ...
//! ```
//!
//! Where the client decides: `ClientContext::choose_protection` picks qop and
//! cipher from the challenge under the [`ClientPolicy`]; a reauthentication ticket is
//! checked against the same policy before it is used.

mod config;

pub use config::{
    ClientConfig, ClientPolicy, Credential, RealmChooser, Requirements, DEFAULT_MIN_CIPHER_STRENGTH,
};

use std::fmt;

use zeroize::Zeroizing;

use super::{Established, Negotiated, Step};
use crate::digest::{self, DigestInput, SessionKey};
use crate::error::{ConfigError, Downgrade, Error, Misuse, ParseError, RspauthFailure};
use crate::layer::{Sealer, Unsealer};
use crate::params::maxbuf_in_range;
use crate::wire::{parse_rspauth, Challenge, Response, MAX_RESPONSE_LEN};
use crate::{Cipher, Qop, Side};

/// What an authentication agreed on with the server, kept for the next
/// reauthentication (RFC 2831 §2.2): the server's nonce, the last nonce-count and the
/// choices made. No secret.
#[derive(Debug, Clone)]
struct Agreement {
    nonce: Vec<u8>,
    nc: u32,
    realm: Option<String>,
    qop: Qop,
    cipher: Option<Cipher>,
    utf8: bool,
    peer_maxbuf: u32,
}

/// The rspauth value the server must send, kept out of `Debug` output and wiped on
/// drop (anyone who saw it could complete the mutual authentication in the server's
/// place).
struct ExpectedRspauth(Zeroizing<[u8; 32]>);

impl fmt::Debug for ExpectedRspauth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug)]
enum State {
    /// Waiting for the server's challenge.
    AwaitChallenge,
    /// The response was sent; waiting for `rspauth`. `reauth`: the response was a
    /// client-first reauthentication, so a `stale=true` challenge may come instead.
    AwaitRspauth {
        agreement: Agreement,
        key: SessionKey,
        expected: ExpectedRspauth,
        reauth: bool,
    },
    /// `rspauth` verified.
    Established {
        agreement: Agreement,
        done: Established,
    },
    Failed,
}

/// What a client keeps from an established context to reauthenticate later, possibly
/// on a new connection (RFC 2831 §2.2): the server's nonce, the last nonce-count and
/// the choices made. It holds no secret.
#[derive(Debug, Clone)]
pub struct ReauthTicket {
    agreement: Agreement,
}

/// A DIGEST-MD5 client context, driven like `InitializeSecurityContext`.
#[derive(Debug)]
pub struct ClientContext {
    config: ClientConfig,
    state: State,
}

impl ClientContext {
    /// Checks the configuration and creates a context waiting for the server's
    /// challenge.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        if config.authcid.is_empty() {
            return Err(ConfigError::EmptyUsername.into());
        }
        if !maxbuf_in_range(config.policy.maxbuf) {
            return Err(ConfigError::MaxBufOutOfRange(config.policy.maxbuf).into());
        }
        if config.authzid.as_deref() == Some("") {
            return Err(ConfigError::EmptyAuthzid.into());
        }
        Ok(ClientContext {
            config,
            state: State::AwaitChallenge,
        })
    }

    /// Advances the exchange with the server's token.
    ///
    /// - Before the challenge: `None` is [`Error::TokenRequired`] and changes nothing.
    /// - Given the challenge: returns [`Step::Continue`] with the response.
    /// - Given `rspauth=...`: verifies it and returns [`Step::Complete`].
    /// - On an established context, `None` starts a reauthentication (RFC 2831 §2.2):
    ///   [`Step::Continue`] with a client-first response.
    ///
    /// Any other error fails the context for good.
    pub fn step(&mut self, input: Option<&[u8]>) -> Result<Step, Error> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let (state, result) = self.advance(state, input);
        self.state = state;
        result
    }

    fn advance(&mut self, state: State, input: Option<&[u8]>) -> (State, Result<Step, Error>) {
        match (state, input) {
            (s @ (State::AwaitChallenge | State::AwaitRspauth { .. }), None) => {
                (s, Err(Error::TokenRequired))
            }
            (State::AwaitChallenge, Some(tok)) => self.answer_challenge(tok),
            (
                State::AwaitRspauth {
                    agreement,
                    key,
                    expected,
                    reauth,
                },
                Some(tok),
            ) => match parse_rspauth(tok) {
                Ok(got) if digest::digest_eq(&expected.0, &got) => {
                    let done = Established::new(key, self.negotiated_of(&agreement));
                    (
                        State::Established { agreement, done },
                        Ok(Step::Complete(None)),
                    )
                }
                Ok(_) => fail(RspauthFailure::Wrong),
                // The server refused the reauthentication with a fresh challenge.
                Err(ParseError::Missing(_)) if reauth => match Challenge::parse(tok) {
                    Ok(c) if c.stale => self.answer_challenge(tok),
                    Ok(_) => fail(RspauthFailure::ChallengeInsteadOfRspauth),
                    Err(e) => (State::Failed, Err(e.into())),
                },
                Err(ParseError::Missing(_)) => fail(RspauthFailure::Missing),
                Err(ParseError::Duplicate(_)) => fail(RspauthFailure::Duplicated),
                Err(e) => (State::Failed, Err(e.into())),
            },
            (State::Established { agreement, .. }, None) => self.reauthenticate_with(agreement),
            (s @ State::Established { .. }, Some(_)) => (s, Err(Misuse::Established.into())),
            (State::Failed, _) => (State::Failed, Err(Misuse::Failed.into())),
        }
    }

    /// Starts a reauthentication (RFC 2831 §2.2) on an established context: the same
    /// as `step(None)`.
    pub fn reauthenticate(&mut self) -> Result<Step, Error> {
        match self.state {
            State::Established { .. } => self.step(None),
            _ => Err(Misuse::NotEstablished.into()),
        }
    }

    /// The ticket for a later reauthentication: `Some` once established.
    pub fn reauth_ticket(&self) -> Option<ReauthTicket> {
        match &self.state {
            State::Established { agreement, .. } => Some(ReauthTicket {
                agreement: agreement.clone(),
            }),
            _ => None,
        }
    }

    /// Starts a subsequent authentication on a new connection: a context that sends
    /// the returned client-first token, then expects `rspauth` (accepted) or a
    /// `stale=true` challenge (it then authenticates afresh).
    ///
    /// The ticket's qop, cipher and maxbuf must satisfy `config`'s policy, which may be
    /// stricter than the one the ticket was made under; otherwise
    /// [`Downgrade::TicketBelowPolicy`] and nothing is sent.
    pub fn resume(config: ClientConfig, ticket: ReauthTicket) -> Result<(Self, Vec<u8>), Error> {
        let mut ctx = ClientContext::new(config)?;
        match ctx.reauthenticate_with(ticket.agreement) {
            (state, Ok(Step::Continue(tok))) => {
                ctx.state = state;
                Ok((ctx, tok))
            }
            (_, Err(e)) => Err(e),
            // `respond` always continues with a token.
            (_, Ok(Step::Complete(_))) => Err(Misuse::Failed.into()),
        }
    }

    /// Picks qop and cipher from the challenge under the policy: the strongest qop the
    /// policy allows (never below its minimum) and, for `auth-conf`, the first
    /// acceptable cipher of the policy's list that the server offers.
    fn choose_protection(&self, c: &Challenge) -> Result<(Qop, Option<Cipher>), Error> {
        let policy = &self.config.policy;
        let (min, max) = policy.qop_range();
        let mut refusal = match min {
            Qop::AuthConf => Some(Downgrade::ConfidentialityNotOffered { offered: c.qops }),
            Qop::AuthInt => Some(Downgrade::IntegrityNotOffered { offered: c.qops }),
            Qop::Auth => None,
        };
        for q in c.qops.iter().rev().filter(|q| *q >= min && *q <= max) {
            if q != Qop::AuthConf {
                return Ok((q, None));
            }
            let pick = policy
                .cipher_list()
                .iter()
                .copied()
                .find(|x| c.ciphers.contains(*x) && policy.accepts_cipher(*x, c.maxbuf));
            match pick {
                Some(x) => return Ok((q, Some(x))),
                None => {
                    refusal = Some(Downgrade::NoAcceptableCipher {
                        offered: c.ciphers,
                        allowed: policy.cipher_list().iter().copied().collect(),
                        floor: policy.cipher_floor(),
                    })
                }
            }
        }
        match refusal {
            Some(d) => Err(d.into()),
            // Only `auth` is allowed, and the server insists on a layer.
            None => Err(Error::ServerRequiresLayer { offered: c.qops }),
        }
    }

    /// A reauthentication repeats the earlier choices without a challenge: they must
    /// still satisfy the policy in force (which may be stricter than the one they were
    /// made under).
    fn check_ticket(&self, a: &Agreement) -> Result<(), Error> {
        let policy = &self.config.policy;
        let (min, max) = policy.qop_range();
        let cipher_ok = match (a.qop, a.cipher) {
            (Qop::AuthConf, Some(c)) => policy.accepts_cipher(c, a.peer_maxbuf),
            (Qop::AuthConf, None) => false,
            (_, c) => c.is_none(),
        };
        if a.qop < min || a.qop > max || !cipher_ok {
            return Err(Downgrade::TicketBelowPolicy {
                qop: a.qop,
                cipher: a.cipher,
            }
            .into());
        }
        Ok(())
    }

    fn answer_challenge(&mut self, tok: &[u8]) -> (State, Result<Step, Error>) {
        let c = match Challenge::parse(tok) {
            Ok(c) => c,
            Err(e) => return (State::Failed, Err(e.into())),
        };
        let (qop, cipher) = match self.choose_protection(&c) {
            Ok(x) => x,
            Err(e) => return (State::Failed, Err(e)),
        };
        let realm = match &self.config.realm_chooser {
            Some(f) => f(&c.realms),
            None => self
                .config
                .realm
                .clone()
                .or_else(|| c.realms.first().cloned()),
        };
        let agreement = Agreement {
            nonce: c.nonce,
            nc: 0,
            realm,
            qop,
            cipher,
            utf8: c.utf8,
            peer_maxbuf: c.maxbuf,
        };
        self.respond(agreement, false)
    }

    fn reauthenticate_with(&mut self, agreement: Agreement) -> (State, Result<Step, Error>) {
        if agreement.nc == u32::MAX {
            return (State::Failed, Err(Error::NonceExhausted));
        }
        if let Err(e) = self.check_ticket(&agreement) {
            return (State::Failed, Err(e));
        }
        self.respond(agreement, true)
    }

    fn respond(&mut self, mut agreement: Agreement, reauth: bool) -> (State, Result<Step, Error>) {
        agreement.nc += 1;
        let cnonce = match self.config.cnonce() {
            Ok(c) => c,
            Err(e) => return (State::Failed, Err(e)),
        };
        let cfg = &self.config;
        let uri = cfg.target.uri();
        let secret = cfg
            .credential
            .secret(&cfg.authcid, agreement.realm.as_deref().unwrap_or(""));
        let input = DigestInput {
            nonce: &agreement.nonce,
            cnonce: &cnonce,
            nc: agreement.nc,
            qop: agreement.qop,
            digest_uri: uri.as_bytes(),
        };
        let key = digest::session_key(&secret, &input, cfg.authzid.as_deref().map(str::as_bytes));
        let response = digest::response_value(&key, &input, false);
        let expected = ExpectedRspauth(Zeroizing::new(digest::response_value(&key, &input, true)));
        let r = Response {
            username: cfg.authcid.clone(),
            realm: agreement.realm.clone(),
            nonce: agreement.nonce.clone(),
            cnonce,
            nc: agreement.nc,
            qop: agreement.qop,
            digest_uri: uri,
            response,
            maxbuf: cfg.policy.maxbuf,
            utf8: agreement.utf8,
            cipher: agreement.cipher,
            authzid: cfg.authzid.clone(),
        };
        let bytes = r.to_bytes();
        if bytes.len() > MAX_RESPONSE_LEN {
            return (
                State::Failed,
                Err(ConfigError::ResponseTooLong(bytes.len()).into()),
            );
        }
        (
            State::AwaitRspauth {
                agreement,
                key,
                expected,
                reauth,
            },
            Ok(Step::Continue(bytes)),
        )
    }

    /// What an agreement whose rspauth was verified negotiated.
    fn negotiated_of(&self, agreement: &Agreement) -> Negotiated {
        let cfg = &self.config;
        Negotiated {
            username: cfg.authcid.clone(),
            realm: agreement.realm.clone(),
            authzid: cfg.authzid.clone(),
            qop: agreement.qop,
            cipher: agreement.cipher,
            ssf: super::ssf(agreement.qop, agreement.cipher),
            mutual: true,
            own_maxbuf: cfg.policy.maxbuf,
            peer_maxbuf: agreement.peer_maxbuf,
            nc: agreement.nc,
        }
    }

    /// Whether the context is established (rspauth verified).
    pub fn is_established(&self) -> bool {
        self.negotiated().is_some()
    }

    /// What was negotiated: `Some` once established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        match &self.state {
            State::Established { done, .. } => Some(done.negotiated()),
            _ => None,
        }
    }

    /// The security layer of an established `auth-int`/`auth-conf` context, split into
    /// its sending and receiving halves. It can be taken once per authentication (a
    /// second pair would reuse the keystream).
    pub fn security_layer(&mut self) -> Result<(Sealer, Unsealer), Error> {
        match &mut self.state {
            State::Established { done, .. } => done.take_layer(Side::Client),
            _ => Err(Misuse::NotEstablished.into()),
        }
    }
}

/// The server did not prove that it knows the password: the context fails.
fn fail(why: RspauthFailure) -> (State, Result<Step, Error>) {
    (State::Failed, Err(Error::MutualAuthFailed(why)))
}
