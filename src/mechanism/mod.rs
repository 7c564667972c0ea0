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
//! # A complete client and server
//!
//! Both halves in one program, in memory: the callbacks, the server's authorization
//! decision (`validate`), what was negotiated, and the secure stream over each
//! session. A real application sends the tokens over its protocol (LDAP bind, IMAP
//! `AUTHENTICATE`, ...) and wraps its socket instead of the in-memory pipe.
//!
//! ```
//! use rsasl::callback::{Context, Request, SessionCallback, SessionData};
//! use rsasl::prelude::*;
//! use rsasl::property::{AuthId, AuthzId, Hostname, Password, Service};
//! use rsasl::validate::{Validate, ValidationError};
//! use sasl_digest_md5::mechanism::{
//!     DigestClientPolicy, DigestServerPolicy, KeepOutcome, SessionErrorExt, SessionStream,
//! };
//! use sasl_digest_md5::{ClientPolicy, Qop, ServerPolicy, DIGEST_MD5};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! static MECHS: &[Mechanism] = &[DIGEST_MD5];
//!
//! // The client answers with its credentials, the service it talks to, and its
//! // policy: here, confidentiality required (auth-conf with rc4 or 3des).
//! struct Client;
//! impl SessionCallback for Client {
//!     fn callback(&self, _: &SessionData, _: &Context, req: &mut Request) -> Result<(), SessionError> {
//!         req.satisfy::<AuthId>("alice")?
//!             .satisfy::<Password>(b"secret")?
//!             .satisfy::<Service>("ldap")?
//!             .satisfy::<Hostname>("ldap.example.com")?
//!             .satisfy::<DigestClientPolicy>(&ClientPolicy::require_confidentiality())?;
//!         Ok(())
//!     }
//! }
//!
//! // The server looks passwords up by user, offers every layer, and decides who is
//! // authorized (here: alice, as herself).
//! struct Server;
//! struct Authorized;
//! impl Validation for Authorized {
//!     type Value = String;
//! }
//! impl SessionCallback for Server {
//!     fn callback(&self, _: &SessionData, ctx: &Context, req: &mut Request) -> Result<(), SessionError> {
//!         if req.is::<Password>() {
//!             if ctx.get_ref::<AuthId>() == Some("alice") {
//!                 req.satisfy::<Password>(b"secret")?;
//!             }
//!             return Ok(());
//!         }
//!         req.satisfy::<Service>("ldap")?
//!             .satisfy::<Hostname>("ldap.example.com")?
//!             .satisfy::<DigestServerPolicy>(&ServerPolicy::offer_layers())?;
//!         Ok(())
//!     }
//!     fn validate(&self, _: &SessionData, ctx: &Context, v: &mut Validate<'_>) -> Result<(), ValidationError> {
//!         let user = ctx.get_ref::<AuthId>().unwrap_or_default();
//!         let authzid = ctx.get_ref::<AuthzId>().unwrap_or_default();
//!         if user == "alice" && (authzid.is_empty() || authzid == "alice") {
//!             v.finalize::<Authorized>(user.to_owned());
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (client_cb, client_outcome) = KeepOutcome::wrap(Client);
//! let client_config = SASLConfig::builder()
//!     .with_registry(Registry::with_mechanisms(MECHS))
//!     .with_callback(client_cb)?;
//! let server_config = SASLConfig::builder()
//!     .with_registry(Registry::with_mechanisms(MECHS))
//!     .with_callback(Server)?;
//! let name = Mechname::parse(b"DIGEST-MD5")?;
//! let mut client = SASLClient::new(client_config).start_suggested(&[name])?;
//! let mut server = SASLServer::<Authorized>::new(server_config).start_suggested(name)?;
//!
//! // DIGEST-MD5 is server-first: challenge, response, rspauth.
//! let (mut challenge, mut response, mut rspauth) = (Vec::new(), Vec::new(), Vec::new());
//! server.step(None, &mut challenge)?;
//! client.step(Some(&challenge), &mut response)?;
//! match server.step(Some(&response), &mut rspauth) {
//!     Ok(state) => assert!(state.is_finished()),
//!     // A wrong password, a downgrade, a malformed token: typed, one call away.
//!     Err(e) if e.is_bad_credentials() => return Err("wrong user name or password".into()),
//!     Err(e) => return Err(e.into()),
//! }
//! client.step(Some(&rspauth), &mut Vec::new())?; // rspauth verified: mutual authentication
//! assert_eq!(server.validation().as_deref(), Some("alice"));
//!
//! // What was negotiated is one call away.
//! let n = client_outcome.negotiated().expect("finished");
//! assert_eq!((n.qop, n.ssf), (Qop::AuthConf, 128));
//!
//! // The secure stream over each session; its type can be named in a struct.
//! tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//!     let (a, b) = tokio::io::duplex(1 << 16);
//!     let mut c: SessionStream<tokio::io::DuplexStream> = client_outcome.secure_stream(a, client)?;
//!     let mut s: SessionStream<_, Authorized> = SessionStream::with_session(b, server)?;
//!     assert_eq!(c.negotiated().map(|n| n.qop), Some(Qop::AuthConf));
//!     c.write_all(b"search: (uid=alice)").await?;
//!     let mut got = [0u8; 19];
//!     s.read_exact(&mut got).await?;
//!     assert_eq!(&got, b"search: (uid=alice)");
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok(())
//! # }
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
//!
//! # Files
//! `mod.rs` the descriptor; `properties.rs` the properties, policies and outcome;
//! `client.rs`, `server.rs` the two halves; `layer.rs` the security layer behind
//! `Session::encode`/`decode`; `error.rs` errors and [`SessionErrorExt`];
//! `outcome.rs` [`KeepOutcome`]; `stream.rs` (feature `tokio`) the secure stream over
//! a session.

mod client;
mod error;
mod layer;
mod outcome;
mod properties;
mod server;
#[cfg(feature = "tokio")]
mod stream;

pub use client::DigestClient;
pub use error::{DigestMechanismError, SessionErrorExt};
pub use outcome::{KeepOutcome, OutcomeHandle};
pub use properties::{
    ClientPolicy, DigestClientPolicy, DigestOutcome, DigestReauthTicket, DigestSecret,
    DigestServerPolicy, OfferedRealms, Outcome, ServerPolicy,
};
pub use server::DigestServer;
#[cfg(feature = "tokio")]
pub use stream::{SessionLayer, SessionStream};

#[cfg(doc)]
use crate::{ClientContext, ServerContext};
use rsasl::mechanism::Authentication;
use rsasl::prelude::{Mechname, SASLConfig, SASLError};
#[cfg(doc)]
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Realm, Service};
use rsasl::registry::{Matches, Mechanism, Named, Side as RsaslSide};

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
pub(crate) use authentication_methods;
