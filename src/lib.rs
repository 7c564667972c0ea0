#![doc = include_str!("../README.md")]
//!
//! # Map of the crate
//!
//! | RFC 2831 | module | SSP verb |
//! |---|---|---|
//! | §7 grammar; §2.1.1 challenge, §2.1.2 response, §2.1.3 rspauth tokens | [`wire`] | (the token buffers) |
//! | §2.1.2 H(A1), response-value; §2.1.3 rspauth value | [`digest`] | |
//! | §2.1.2, §2.1.3, §2.2 (client) | [`context::client`] | `InitializeSecurityContext` |
//! | §2.1.1, §2.1.2, §2.2 (server), reauthentication store | [`context::server`] | `AcceptSecurityContext` |
//! | what was agreed | [`Negotiated`] | `QueryContextAttributes` |
//! | §2.3 integrity, §2.4 confidentiality | [`layer`] | `MakeSignature`/`VerifySignature`, `EncryptMessage`/`DecryptMessage` |
//! | RFC 4422 §3.7 framing | [`layer::FrameDecoder`] | |
//! | (rsasl 2.3) | [`mechanism`] | |
//! | (tokio) | [`stream`] | |
//! | errors | [`error`] | `SECURITY_STATUS` ([`Error::status`]) |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod context;
pub mod digest;
pub mod error;
pub mod layer;
#[cfg(feature = "rsasl")]
pub mod mechanism;
mod params;
#[cfg(feature = "redis")]
pub mod redis_store;
#[cfg(feature = "tokio")]
pub mod stream;
pub mod wire;

pub use context::client::{
    ClientConfig, ClientContext, ClientPolicy, Credential, ReauthTicket, Requirements,
    DEFAULT_MIN_CIPHER_STRENGTH,
};
pub use context::server::reauth::{
    ReauthAttempt, ReauthBinding, ReauthCache, ReauthRefusal, ReauthStore, DEFAULT_MAX_NONCE_COUNT,
};
pub use context::server::{
    CredentialStore, ServerConfig, ServerContext, ServerPolicy, StoredSecret,
};
pub use context::{Negotiated, Step, Target};
pub use digest::Secret;
pub use error::{
    ConfigError, DirectiveName, Downgrade, Error, InvalidReason, Misuse, ParseError,
    RspauthFailure, SspiStatus, TargetError, UriPart,
};
pub use layer::LayerError;
#[cfg(feature = "rsasl")]
pub use mechanism::DIGEST_MD5;
pub use params::{
    Cipher, CipherSet, Qop, QopSet, Side, MAXBUF_DEFAULT, MAXBUF_MAX, MAXBUF_MIN_EXCLUSIVE,
};
