//! The rsasl 2.3 mechanism `DIGEST-MD5`, client and server, a thin layer over
//! [`ClientContext`] and [`ServerContext`].
//!
//! # Registration
//! Either through rsasl's static registry (cargo feature `registry_static` of this
//! crate, which turns on `rsasl/registry_static`; the application must link this
//! crate, e.g. by naming `sasl_digest_md5::DIGEST_MD5` or with
//! `extern crate sasl_digest_md5;`), or explicitly:
//! ```
//! use rsasl::prelude::{Mechanism, Registry, SASLConfig};
//! static MECHS: &[Mechanism] = &[sasl_digest_md5::DIGEST_MD5];
//! let registry = Registry::with_mechanisms(MECHS);
//! # let _ = registry;
//! ```
//!
//! # Properties
//! Client: [`AuthId`], [`Password`] (or [`DigestSecret`]), optional [`AuthzId`],
//! [`Service`] and [`Hostname`] (the digest-uri), optional [`Realm`] (the callback
//! sees the offered realms as [`OfferedRealms`] in its context), optional
//! [`DigestClientPolicy`] (minimum protection, ciphers, strength floor, maxbuf; the
//! default is qop `auth` only), optional [`DigestReauthTicket`] (try a subsequent
//! authentication, see below).
//!
//! Server: [`Service`], [`Hostname`], optional [`DigestServerPolicy`] (realms, qops,
//! ciphers, maxbuf, reauthentication cache); per user, [`DigestSecret`] or
//! [`Password`], asked with [`AuthId`], [`Realm`] and [`AuthzId`] (`""` when absent)
//! in the context; then `validate` with the same three, so the application makes the
//! authorization decision.
//!
//! Both sides end with the action [`DigestOutcome`]: what was negotiated and (client)
//! a reauthentication ticket.
//!
//! # Security layer
//! With qop `auth-int` or `auth-conf`, `Session::encode` seals at most one frame
//! (no more than the peer's maxbuf allows) and returns the input bytes consumed;
//! `Session::decode` unseals one frame and returns the bytes consumed, or
//! `InputDataRequired` when the input holds no whole frame. **Frames carry the RFC
//! 4422 §3.7 four-octet length prefix**: it is what goes on the wire for LDAP, IMAP
//! and SMTP, and it is what lets `decode` tell a partial frame from a whole one.
//!
//! # Errors are final
//! A `step` that fails (other than with `InputDataRequired`) fails the exchange: later
//! steps fail too. A `decode` that refuses a frame (bad length prefix, failed integrity
//! check) fails the layer: later calls fail too, even with genuine frames.
//!
//! # rspauth
//! The client accepts `rspauth` as success data (`step` with it after the outcome,
//! as LDAP does) or as a last challenge (IMAP, XMPP: the protocol then sends an empty
//! response). Data arriving after a verified `rspauth` is ignored (Prosody sends junk
//! in `<success/>`).
//!
//! # Subsequent authentication (RFC 2831 §2.2)
//! rsasl declares DIGEST-MD5 server-first. To reauthenticate on a new connection, the
//! client application provides the [`DigestReauthTicket`] it got in the
//! [`DigestOutcome`] of an earlier session and calls `step(None)` **before** receiving
//! a challenge: the mechanism then writes a client-first response, which the protocol
//! sends as an initial response. A server session that receives a token in its first
//! `step` treats it as a reauthentication: it answers `rspauth` if the nonce is in
//! its [`ReauthCache`](crate::ReauthCache) (share one through [`ServerPolicy::reauth_cache`]), else a
//! `stale=true` challenge, after which the exchange proceeds as a first
//! authentication. Without a ticket, the client's early `step(None)` returns
//! `InputDataRequired`.
//!
//! # Priority
//! 250: above LOGIN (200), below PLAIN (300) and SCRAM (400+). With rsasl's default
//! preference, a server offering SCRAM or PLAIN gets those (SCRAM is stronger; PLAIN
//! is the better choice over TLS). An application that talks to servers without TLS
//! and wants to avoid PLAIN should list only the mechanisms it wants in its registry.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rsasl::mechanism::{
    Authentication, Demand, DemandReply, EmptyProvider, MechanismData, MechanismError,
    MechanismErrorKind, Provider, SessionError, State,
};
use rsasl::prelude::{Mechname, MessageSent, SASLConfig, SASLError};
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Realm, Service};
use rsasl::property::{Property, SizedProperty};
use rsasl::registry::{Matches, Mechanism, Named, Side as RsaslSide};
use zeroize::Zeroize;

use crate::digest::Secret;
use crate::error::{ConfigError, Misuse};
use crate::layer::{FrameDecoder, LayerError, Peek, Sealer, Unsealer};
use crate::wire::{Challenge, Response};
use crate::{
    ClientConfig, ClientContext, Credential, Error, Negotiated, ReauthTicket, ServerConfig,
    ServerContext, Step, StoredSecret, Target,
};
pub use crate::{ClientPolicy, ServerPolicy};

/// The rsasl mechanism descriptor for DIGEST-MD5.
#[cfg_attr(
    feature = "registry_static",
    linkme::distributed_slice(rsasl::registry::MECHANISMS)
)]
pub static DIGEST_MD5: Mechanism = Mechanism::build(
    Mechname::const_new_unchecked(b"DIGEST-MD5"),
    250,
    Some(new_client),
    Some(new_server),
    RsaslSide::Server,
    |_| Some(Matches::<Select>::name()),
    |_| true,
);

struct Select;
impl Named for Select {
    fn mech() -> &'static Mechanism {
        &DIGEST_MD5
    }
}

fn new_client() -> Result<Box<dyn Authentication>, SASLError> {
    Ok(Box::new(DigestClient::default()))
}

fn new_server(_: &SASLConfig) -> Result<Box<dyn Authentication>, SASLError> {
    Ok(Box::new(DigestServer::default()))
}

/// What the mechanism hands the application at the end of an exchange.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What was negotiated.
    pub negotiated: Negotiated,
    /// Client: a ticket for a later subsequent authentication.
    pub reauth_ticket: Option<ReauthTicket>,
}

macro_rules! sized_property {
    ($(#[$m:meta])* $name:ident => $value:ty) => {
        $(#[$m])*
        #[non_exhaustive]
        #[derive(Debug)]
        pub struct $name;
        impl SizedProperty<'_> for $name {
            type Value = $value;
            const DESCRIPTION: &'static str = stringify!($name);
        }
    };
}

sized_property!(
    /// Client policy ([`ClientPolicy`]).
    DigestClientPolicy => ClientPolicy);
sized_property!(
    /// Server policy ([`ServerPolicy`]).
    DigestServerPolicy => ServerPolicy);
sized_property!(
    /// A precomputed H({username:realm:password}) instead of a password.
    DigestSecret => Secret);
sized_property!(
    /// Client: a ticket from an earlier [`Outcome`], to try a subsequent authentication.
    DigestReauthTicket => ReauthTicket);
sized_property!(
    /// Action at the end of the exchange ([`Outcome`]).
    DigestOutcome => Outcome);

/// The realms the server offered, in the callback's context while it is asked for
/// [`Realm`].
#[non_exhaustive]
#[derive(Debug)]
pub struct OfferedRealms;
impl<'a> Property<'a> for OfferedRealms {
    type Value = [String];
    const DESCRIPTION: &'static str = "realms offered by the server";
}

/// An [`Error`] as an rsasl mechanism error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DigestMechanismError(pub Error);

impl MechanismError for DigestMechanismError {
    fn kind(&self) -> MechanismErrorKind {
        match self.0 {
            Error::Malformed(_) => MechanismErrorKind::Parse,
            Error::LogonDenied => MechanismErrorKind::Outcome,
            _ => MechanismErrorKind::Protocol,
        }
    }
}

fn session_error(e: Error) -> SessionError {
    match e {
        Error::TokenRequired => SessionError::InputDataRequired,
        Error::MutualAuthFailed(_) => SessionError::MutualAuthenticationFailed,
        e => DigestMechanismError(e).into(),
    }
}

/// The `Authentication` methods, the same for both halves of the mechanism: `step`
/// (over the half's own `exchange`, keeping a failed exchange failed) and
/// `encode`/`decode`/`has_security_layer` over its `layer: Option<Layer>` field.
macro_rules! authentication_methods {
    () => {
        fn step(
            &mut self,
            session: &mut MechanismData,
            input: Option<&[u8]>,
            writer: &mut dyn Write,
        ) -> Result<State, SessionError> {
            if self.failed {
                return Err(session_error(Misuse::Failed.into()));
            }
            let result = self.exchange(session, input, writer);
            // An exchange that failed stays failed (like the contexts), whether the
            // error came from the context, the parser or a callback; only "more input
            // needed" and errors after success leave it as it was.
            self.failed = !self.finished
                && matches!(&result, Err(e) if !matches!(e, SessionError::InputDataRequired));
            result
        }

        fn encode(&mut self, input: &[u8], writer: &mut dyn Write) -> Result<usize, SessionError> {
            self.layer
                .as_mut()
                .ok_or(SessionError::NoSecurityLayer)?
                .encode(input, writer)
        }

        fn decode(&mut self, input: &[u8], writer: &mut dyn Write) -> Result<usize, SessionError> {
            self.layer
                .as_mut()
                .ok_or(SessionError::NoSecurityLayer)?
                .decode(input, writer)
        }

        fn has_security_layer(&self) -> bool {
            self.layer.is_some()
        }
    };
}

/// The installed security layer and scratch space (no allocation per message once
/// warm).
struct Layer {
    sealer: Sealer,
    unsealer: Unsealer,
    frames: FrameDecoder,
    scratch: Vec<u8>,
    /// A frame was refused (bad length prefix or unseal failure): every later
    /// `decode` fails too, as the `Unsealer` and `FrameDecoder` do on their own.
    failed: bool,
}

impl std::fmt::Debug for Layer {
    // Not derived: `scratch` holds the last unsealed plaintext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer")
            .field("sealer", &self.sealer)
            .field("unsealer", &self.unsealer)
            .finish_non_exhaustive()
    }
}

impl Layer {
    fn encode(&mut self, input: &[u8], writer: &mut dyn Write) -> Result<usize, SessionError> {
        let n = input.len().min(self.sealer.max_plaintext_len());
        self.scratch.clear();
        self.sealer
            .seal_frame(&input[..n], &mut self.scratch)
            .map_err(|e| session_error(e.into()))?;
        writer.write_all(&self.scratch)?;
        Ok(n)
    }

    fn decode(&mut self, input: &[u8], writer: &mut dyn Write) -> Result<usize, SessionError> {
        if self.failed {
            return Err(session_error(LayerError::Poisoned.into()));
        }
        let result = self.decode_frame(input, writer);
        self.failed = matches!(&result, Err(e) if !matches!(e, SessionError::InputDataRequired));
        result
    }

    fn decode_frame(
        &mut self,
        input: &[u8],
        writer: &mut dyn Write,
    ) -> Result<usize, SessionError> {
        let frame_len = match self
            .frames
            .peek(input)
            .map_err(|e| session_error(e.into()))?
        {
            Peek::Frame { frame_len } => frame_len,
            Peek::NeedMore { .. } => return Err(SessionError::InputDataRequired),
        };
        self.scratch.clear();
        self.unsealer
            .unseal(&input[4..frame_len], &mut self.scratch)
            .map_err(|e| session_error(e.into()))?;
        let written = writer.write_all(&self.scratch);
        // The plaintext would outlive this message in the scratch buffer: wipe it
        // (as long as the message, no allocation).
        self.scratch.as_mut_slice().zeroize();
        written?;
        Ok(frame_len)
    }
}

impl Drop for Layer {
    fn drop(&mut self) {
        // The whole capacity: earlier, longer messages left bytes past `len`.
        self.scratch.zeroize();
    }
}

fn layer_of(
    negotiated: &Negotiated,
    take: impl FnOnce() -> Result<(Sealer, Unsealer), Error>,
) -> Result<Option<Layer>, SessionError> {
    if !negotiated.qop.has_layer() {
        return Ok(None);
    }
    let (sealer, unsealer) = take().map_err(session_error)?;
    let frames = FrameDecoder::new(negotiated.own_maxbuf).map_err(|e| session_error(e.into()))?;
    Ok(Some(Layer {
        sealer,
        unsealer,
        frames,
        scratch: Vec::new(),
        failed: false,
    }))
}

struct RealmsProvider<'a>(&'a [String]);
impl<'a> Provider<'a> for RealmsProvider<'a> {
    fn provide(&self, req: &mut Demand<'a>) -> DemandReply<()> {
        req.provide_ref::<OfferedRealms>(self.0)?.done()
    }
}

/// The client half of the rsasl mechanism.
#[derive(Debug, Default)]
pub struct DigestClient {
    ctx: Option<ClientContext>,
    layer: Option<Layer>,
    finished: bool,
    failed: bool,
}

impl DigestClient {
    fn config(
        session: &MechanismData,
        offered: &[String],
        resuming: Option<&ReauthTicket>,
    ) -> Result<ClientConfig, SessionError> {
        let authcid = session.need_with::<AuthId, _, _>(&EmptyProvider, |a| Ok(a.to_owned()))?;
        let credential = match session
            .maybe_need_with::<DigestSecret, _, _>(&EmptyProvider, |s| Ok(s.clone()))?
        {
            Some(s) => Credential::Secret(s),
            None => session.need_with::<Password, _, _>(&EmptyProvider, |p| {
                let p = std::str::from_utf8(p)
                    .map_err(|_| session_error(ConfigError::PasswordNotUtf8.into()))?;
                Ok(Credential::password(p))
            })?,
        };
        let service = session.need_with::<Service, _, _>(&EmptyProvider, |s| Ok(s.to_owned()))?;
        let host = session.need_with::<Hostname, _, _>(&EmptyProvider, |s| Ok(s.to_owned()))?;
        let target = Target::new(&service, &host).map_err(session_error)?;
        let policy = session
            .maybe_need_with::<DigestClientPolicy, _, _>(&EmptyProvider, |p| Ok(p.clone()))?
            .unwrap_or_default();
        let mut cfg = ClientConfig::new(authcid, credential, target).policy(policy);
        if let Some(z) =
            session.maybe_need_with::<AuthzId, _, _>(&EmptyProvider, |z| Ok(z.to_owned()))?
        {
            if !z.is_empty() {
                cfg = cfg.authzid(z);
            }
        }
        if resuming.is_none() {
            let realm = session
                .maybe_need_with::<Realm, _, _>(&RealmsProvider(offered), |r| Ok(r.to_owned()))?;
            let realm = realm.or_else(|| offered.first().cloned());
            cfg = cfg.realm_chooser(move |_| realm.clone());
        }
        Ok(cfg)
    }

    fn finish(&mut self, session: &mut MechanismData) -> Result<State, SessionError> {
        let ctx = self.ctx.as_mut().ok_or(SessionError::MechanismDone)?;
        let negotiated = ctx
            .negotiated()
            .cloned()
            .ok_or(SessionError::MechanismDone)?;
        self.layer = layer_of(&negotiated, || ctx.security_layer())?;
        self.finished = true;
        let outcome = Outcome {
            negotiated,
            reauth_ticket: ctx.reauth_ticket(),
        };
        // The application need not listen for the outcome.
        let _ = session.action::<DigestOutcome>(&EmptyProvider, &outcome);
        Ok(State::Finished(MessageSent::No))
    }
}

impl Authentication for DigestClient {
    authentication_methods!();
}

impl DigestClient {
    fn exchange(
        &mut self,
        session: &mut MechanismData,
        input: Option<&[u8]>,
        writer: &mut dyn Write,
    ) -> Result<State, SessionError> {
        if self.finished {
            // Extra success data after a verified rspauth (Prosody) is ignored.
            return match input {
                Some(_) => Ok(State::Finished(MessageSent::No)),
                None => Err(SessionError::MechanismDone),
            };
        }
        let step = match (&mut self.ctx, input) {
            (None, None) => {
                let ticket = session
                    .maybe_need_with::<DigestReauthTicket, _, _>(&EmptyProvider, |t| {
                        Ok(t.clone())
                    })?;
                let Some(ticket) = ticket else {
                    return Err(SessionError::InputDataRequired);
                };
                let cfg = Self::config(session, &[], Some(&ticket))?;
                let (ctx, tok) = ClientContext::resume(cfg, ticket).map_err(session_error)?;
                self.ctx = Some(ctx);
                Step::Continue(tok)
            }
            (None, Some(challenge)) => {
                let offered = Challenge::parse(challenge).map_err(|e| session_error(e.into()))?;
                let cfg = Self::config(session, &offered.realms, None)?;
                let ctx = self
                    .ctx
                    .insert(ClientContext::new(cfg).map_err(session_error)?);
                ctx.step(Some(challenge)).map_err(session_error)?
            }
            (Some(_), None) => return Err(SessionError::MutualAuthenticationFailed),
            (Some(ctx), Some(tok)) => ctx.step(Some(tok)).map_err(session_error)?,
        };
        match step {
            Step::Continue(tok) => {
                writer.write_all(&tok)?;
                Ok(State::Running)
            }
            Step::Complete(_) => self.finish(session),
        }
    }
}

struct UserProvider<'a> {
    authid: &'a str,
    realm: &'a str,
    authzid: &'a str,
}

impl<'a> Provider<'a> for UserProvider<'a> {
    fn provide(&self, req: &mut Demand<'a>) -> DemandReply<()> {
        req.provide_ref::<AuthId>(self.authid)?
            .provide_ref::<Realm>(self.realm)?
            .provide_ref::<AuthzId>(self.authzid)?
            .done()
    }
}

/// The server half of the rsasl mechanism.
#[derive(Debug, Default)]
pub struct DigestServer {
    ctx: Option<ServerContext>,
    secret: Arc<Mutex<Option<StoredSecret>>>,
    layer: Option<Layer>,
    finished: bool,
    failed: bool,
}

impl DigestServer {
    fn context(&self, session: &MechanismData) -> Result<ServerContext, SessionError> {
        let service = session.need_with::<Service, _, _>(&EmptyProvider, |s| Ok(s.to_owned()))?;
        let host = session.need_with::<Hostname, _, _>(&EmptyProvider, |s| Ok(s.to_owned()))?;
        let policy = session
            .maybe_need_with::<DigestServerPolicy, _, _>(&EmptyProvider, |p| Ok(p.clone()))?
            .unwrap_or_default();
        let cfg = ServerConfig::new(&service, &host).policy(policy);
        let slot = Arc::clone(&self.secret);
        let store = move |_: &str, _: &str| slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        ServerContext::new(cfg, store).map_err(session_error)
    }
}

impl Authentication for DigestServer {
    authentication_methods!();
}

impl DigestServer {
    fn exchange(
        &mut self,
        session: &mut MechanismData,
        input: Option<&[u8]>,
        writer: &mut dyn Write,
    ) -> Result<State, SessionError> {
        if self.finished {
            return Err(SessionError::MechanismDone);
        }
        if self.ctx.is_none() {
            self.ctx = Some(self.context(session)?);
        }
        let ctx = self.ctx.as_mut().ok_or(SessionError::MechanismDone)?;
        let mut who = None;
        if let Some(tok) = input {
            // Look the user's secret up (through the callback) before verifying.
            let r = Response::parse(tok).map_err(|e| session_error(e.into()))?;
            let realm = r.realm.clone().unwrap_or_default();
            let authzid = r.authzid.clone().unwrap_or_default();
            let p = UserProvider {
                authid: &r.username,
                realm: &realm,
                authzid: &authzid,
            };
            let stored =
                match session.maybe_need_with::<DigestSecret, _, _>(&p, |s| Ok(s.clone()))? {
                    Some(s) => Some(StoredSecret::Secret(s)),
                    None => session
                        .maybe_need_with::<Password, _, _>(&p, |pw| {
                            Ok(std::str::from_utf8(pw).ok().map(StoredSecret::password))
                        })?
                        .flatten(),
                };
            *self.secret.lock().unwrap_or_else(|e| e.into_inner()) = stored;
            who = Some((r.username, realm, authzid));
        }
        let step = ctx.step(input);
        self.secret.lock().unwrap_or_else(|e| e.into_inner()).take();
        match step.map_err(session_error)? {
            Step::Continue(tok) => {
                writer.write_all(&tok)?;
                Ok(State::Running)
            }
            Step::Complete(tok) => {
                let (user, realm, authzid) = who.ok_or(SessionError::MechanismDone)?;
                session.validate(&UserProvider {
                    authid: &user,
                    realm: &realm,
                    authzid: &authzid,
                })?;
                let negotiated = ctx
                    .negotiated()
                    .cloned()
                    .ok_or(SessionError::MechanismDone)?;
                self.layer = layer_of(&negotiated, || ctx.security_layer())?;
                self.finished = true;
                let _ = session.action::<DigestOutcome>(
                    &EmptyProvider,
                    &Outcome {
                        negotiated,
                        reauth_ticket: None,
                    },
                );
                writer.write_all(&tok.unwrap_or_default())?;
                Ok(State::Finished(MessageSent::Yes))
            }
        }
    }
}

/// This crate's view of an rsasl [`SessionError`]: the one documented way from any
/// error an rsasl `Session` returns to this crate's [`Error`], and the questions
/// applications ask of it.
///
/// ```
/// use rsasl::prelude::SessionError;
/// use sasl_digest_md5::mechanism::SessionErrorExt;
/// fn report(e: &SessionError) -> &'static str {
///     if e.is_bad_credentials() {
///         "wrong user name or password (or a server that does not know it)"
///     } else if e.is_downgrade() {
///         "the peer offered less protection than required"
///     } else if let Some(layer) = e.layer_error() {
///         let _ = layer; // a tampered, replayed or oversized frame
///         "the security layer refused a message"
///     } else {
///         "other"
///     }
/// }
/// assert_eq!(report(&SessionError::MutualAuthenticationFailed), "wrong user name or password (or a server that does not know it)");
/// ```
pub trait SessionErrorExt {
    /// The DIGEST-MD5 error behind this rsasl error, if it came from this mechanism
    /// (every failure of a step, encode or decode does, except "more input needed",
    /// which is [`SessionError::InputDataRequired`], and a failed mutual
    /// authentication, which is [`SessionError::MutualAuthenticationFailed`]).
    fn digest_error(&self) -> Option<&Error>;

    /// The security-layer error behind a failed `encode`/`decode`.
    fn layer_error(&self) -> Option<&crate::LayerError> {
        match self.digest_error() {
            Some(Error::Layer(e)) => Some(e),
            _ => None,
        }
    }

    /// Wrong password or unknown user (server: [`Error::LogonDenied`]), or a server
    /// that failed to prove it knows the password (client).
    fn is_bad_credentials(&self) -> bool;

    /// A side refused to go on with less protection than its policy demands
    /// ([`Error::DowngradeRefused`]).
    fn is_downgrade(&self) -> bool {
        self.digest_error().is_some_and(Error::is_downgrade)
    }

    /// The peer did something wrong ([`Error::is_peer_fault`]).
    fn is_peer_fault(&self) -> bool;
}

impl SessionErrorExt for SessionError {
    fn digest_error(&self) -> Option<&Error> {
        match self {
            SessionError::MechanismError(e) => {
                let e: &(dyn std::error::Error + 'static) = &**e;
                e.downcast_ref::<DigestMechanismError>().map(|d| &d.0)
            }
            _ => None,
        }
    }

    fn is_bad_credentials(&self) -> bool {
        matches!(self, SessionError::MutualAuthenticationFailed)
            || self.digest_error().is_some_and(Error::is_bad_credentials)
    }

    fn is_peer_fault(&self) -> bool {
        matches!(self, SessionError::MutualAuthenticationFailed)
            || self.digest_error().is_some_and(Error::is_peer_fault)
    }
}

/// A callback wrapper that keeps the [`Outcome`] of the exchange, so that what was
/// negotiated is one call away after an rsasl authentication: wrap the application's
/// callback, build the `SASLConfig` with it, and ask the handle afterwards.
///
/// ```
/// use rsasl::prelude::*;
/// use sasl_digest_md5::mechanism::KeepOutcome;
/// # struct AppCallback; impl rsasl::callback::SessionCallback for AppCallback {}
/// static MECHS: &[Mechanism] = &[sasl_digest_md5::DIGEST_MD5];
/// let (callback, outcome) = KeepOutcome::wrap(AppCallback);
/// let config = SASLConfig::builder()
///     .with_registry(Registry::with_mechanisms(MECHS))
///     .with_callback(callback)?;
/// // ... authenticate a session made from `config` ...
/// assert!(outcome.negotiated().is_none()); // Some(..) once the exchange finished
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeepOutcome<C> {
    inner: C,
    slot: OutcomeHandle,
}

/// Where [`KeepOutcome`] puts the outcome; cheap to clone, shared with the callback.
/// With a `SASLConfig` shared by several sessions it holds the last exchange's
/// outcome.
#[derive(Debug, Clone, Default)]
pub struct OutcomeHandle(Arc<Mutex<Option<Outcome>>>);

impl OutcomeHandle {
    /// The whole outcome of the last finished exchange (client: with its
    /// reauthentication ticket).
    pub fn outcome(&self) -> Option<Outcome> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What the last finished exchange negotiated (qop, cipher, ssf, both maxbufs,
    /// identities).
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.outcome().map(|o| o.negotiated)
    }

    /// Client: the ticket for a later reauthentication.
    pub fn reauth_ticket(&self) -> Option<ReauthTicket> {
        self.outcome().and_then(|o| o.reauth_ticket)
    }
}

impl<C> KeepOutcome<C> {
    /// Wraps `inner`; every request but the outcome action goes to it.
    pub fn wrap(inner: C) -> (Self, OutcomeHandle) {
        let slot = OutcomeHandle::default();
        (
            KeepOutcome {
                inner,
                slot: slot.clone(),
            },
            slot,
        )
    }
}

impl<C: rsasl::callback::SessionCallback> rsasl::callback::SessionCallback for KeepOutcome<C> {
    fn callback(
        &self,
        session_data: &rsasl::callback::SessionData,
        context: &rsasl::callback::Context,
        request: &mut rsasl::callback::Request,
    ) -> Result<(), SessionError> {
        if let Some(outcome) = request.get_action::<DigestOutcome>() {
            *self.slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome.clone());
        }
        self.inner.callback(session_data, context, request)
    }

    fn validate(
        &self,
        session_data: &rsasl::callback::SessionData,
        context: &rsasl::callback::Context,
        validate: &mut rsasl::validate::Validate<'_>,
    ) -> Result<(), rsasl::validate::ValidationError> {
        self.inner.validate(session_data, context, validate)
    }
}
