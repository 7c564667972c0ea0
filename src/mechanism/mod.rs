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

use rsasl::mechanism::Authentication;
use rsasl::prelude::{Mechname, SASLConfig, SASLError};
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
