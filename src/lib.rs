#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod challenge;
pub mod client;
pub mod digest;
pub mod directives;
pub mod error;
pub mod layer;
pub mod mechanism;
pub mod reauth;
#[cfg(feature = "redis")]
pub mod redis_store;
pub mod response;
pub mod server;
pub mod stream;
mod types;

pub use client::{ClientConfig, ClientContext, Credential, ReauthTicket, Requirements, Target};
pub use error::{Downgrade, Error, ParseError, SspiStatus};
pub use mechanism::DIGEST_MD5;
pub use reauth::{ReauthAttempt, ReauthBinding, ReauthCache, ReauthRefusal, ReauthStore};
pub use server::{CredentialStore, ServerConfig, ServerContext, StoredSecret};
pub use types::{
    Cipher, CipherSet, Qop, QopSet, Side, MAXBUF_DEFAULT, MAXBUF_MAX, MAXBUF_MIN_EXCLUSIVE,
};

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
    getrandom::getrandom(&mut raw)
        .map_err(|_| Error::Internal("the operating system's random number generator failed"))?;
    Ok(base64::engine::general_purpose::STANDARD
        .encode(raw)
        .into_bytes())
}
