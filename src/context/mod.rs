//! The two security contexts and what they share.
//!
//! | SSP verb | RFC 2831 | here |
//! |---|---|---|
//! | `InitializeSecurityContext` (loop until established) | §2.1.2 digest-response, §2.1.3 rspauth check, §2.2 subsequent authentication | [`client`]: [`ClientConfig`](client::ClientConfig), [`ClientContext`](client::ClientContext) |
//! | `AcceptSecurityContext` (loop until established) | §2.1.1 challenge, §2.1.2 response check, §2.1.3 rspauth, §2.2 | [`server`]: [`ServerConfig`](server::ServerConfig), [`ServerContext`](server::ServerContext), the [`ReauthStore`](server::reauth::ReauthStore) |
//! | `QueryContextAttributes` | | [`Negotiated`] |
//! | `ExportSecurityContext`-like hand-off to the layer | §2.3, §2.4 | `security_layer()` on either context |
//!
//! Both contexts are sans-IO state machines: `step` takes the peer's token and returns
//! a [`Step`]; data that exists only after a step lives in the state that step
//! produced (the session key and [`Negotiated`] only once established).

pub mod client;
pub mod server;
mod target;

pub use target::Target;

use crate::digest::SessionKey;
use crate::error::{Error, Misuse};
use crate::layer::{self, Sealer, Unsealer};
use crate::{Cipher, Qop, Side};

/// What a context step asks the caller to do next (like `SEC_I_CONTINUE_NEEDED` and
/// `SEC_E_OK` from `InitializeSecurityContext`/`AcceptSecurityContext`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this token to the peer and call `step` again with its answer.
    Continue(Vec<u8>),
    /// The context is established; send the token if there is one.
    Complete(Option<Vec<u8>>),
}

/// What both sides agreed on, available once a context is established
/// (`QueryContextAttributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The authentication identity.
    pub username: String,
    /// The realm used in the digest (`None`: none was sent).
    pub realm: Option<String>,
    /// The authorization identity, if one was sent.
    pub authzid: Option<String>,
    /// The quality of protection.
    pub qop: Qop,
    /// The cipher (qop `auth-conf` only).
    pub cipher: Option<Cipher>,
    /// The security strength factor as Cyrus SASL reports it: 0 for `auth`, 1 for
    /// `auth-int`, the cipher's key strength for `auth-conf` (55 for des).
    pub ssf: u32,
    /// Whether the peer proved knowledge of the password (always true on an
    /// established client context: `rspauth` was verified).
    pub mutual: bool,
    /// The largest buffer we accept from the peer (what we advertised).
    pub own_maxbuf: u32,
    /// The largest buffer the peer accepts from us (what it advertised).
    pub peer_maxbuf: u32,
    /// The nonce-count of this authentication (1, or more after reauthentication).
    pub nc: u32,
}

pub(crate) fn ssf(qop: Qop, cipher: Option<Cipher>) -> u32 {
    match (qop, cipher) {
        (Qop::Auth, _) => 0,
        (Qop::AuthInt, _) | (Qop::AuthConf, None) => 1,
        // Cyrus reports 55 for single DES (56 bits less the one it counts as parity).
        (Qop::AuthConf, Some(Cipher::Des)) => 55,
        (Qop::AuthConf, Some(c)) => c.strength(),
    }
}

/// 144 bits from the OS CSPRNG, base64-encoded.
pub(crate) fn random_nonce() -> Result<Vec<u8>, Error> {
    use base64::Engine;
    let mut raw = [0u8; 18];
    getrandom::getrandom(&mut raw).map_err(|_| Error::RandomUnavailable)?;
    Ok(base64::engine::general_purpose::STANDARD
        .encode(raw)
        .into_bytes())
}

/// What an established context holds, the same on both sides: the session key, what
/// was negotiated, and whether the layer was handed out (once per authentication: a
/// second pair of halves would reuse the keystream).
#[derive(Debug)]
pub(crate) struct Established {
    key: SessionKey,
    negotiated: Negotiated,
    layer_taken: bool,
}

impl Established {
    pub(crate) fn new(key: SessionKey, negotiated: Negotiated) -> Self {
        Established {
            key,
            negotiated,
            layer_taken: false,
        }
    }

    pub(crate) fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// The security layer's halves for `side` (`layer::establish`), once.
    pub(crate) fn take_layer(&mut self, side: Side) -> Result<(Sealer, Unsealer), Error> {
        if self.layer_taken {
            return Err(Misuse::LayerAlreadyTaken.into());
        }
        let n = &self.negotiated;
        let halves = layer::establish(
            self.key.as_bytes(),
            n.qop,
            n.cipher,
            side,
            n.peer_maxbuf,
            n.own_maxbuf,
        )?;
        self.layer_taken = true;
        Ok(halves)
    }
}
