//! Typed errors, and their mapping onto the Digest SSP's status codes.

use crate::layer::LayerError;

/// Why a digest-challenge, digest-response or response-auth token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The token is longer than RFC 2831 allows (2048 bytes for a challenge, 4096 for
    /// a response).
    #[error("token of {len} bytes exceeds the limit of {limit}")]
    TooLong {
        /// The token's length.
        len: usize,
        /// The limit for this kind of token.
        limit: usize,
    },
    /// A NUL byte anywhere in the token.
    #[error("NUL byte in token")]
    Nul,
    /// A quoted-string that does not end, or a stray quote.
    #[error("unbalanced quotes")]
    UnbalancedQuote,
    /// Not a `name=value` list.
    #[error("syntax error at byte {offset}")]
    Syntax {
        /// Where the lexer stopped.
        offset: usize,
    },
    /// A required directive is absent.
    #[error("missing directive `{0}`")]
    Missing(&'static str),
    /// A directive that may appear once appeared again.
    #[error("duplicated directive `{0}`")]
    Duplicate(&'static str),
    /// A directive whose value is not allowed.
    #[error("invalid value for `{directive}`: {reason}")]
    InvalidValue {
        /// The directive.
        directive: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value that must be UTF-8 (because `charset=utf-8` is in play) is not.
    #[error("`{0}` is not valid UTF-8 although charset=utf-8")]
    InvalidUtf8(&'static str),
}

/// Everything that can go wrong while establishing or using a DIGEST-MD5 context.
///
/// [`Error::status`] maps each onto the Digest SSP's failure code, so code ported from
/// Windows can keep its error handling:
///
/// | variant | SSP status |
/// |---|---|
/// | `Malformed` | `SEC_E_INVALID_TOKEN` |
/// | `LogonDenied` | `SEC_E_LOGON_DENIED` |
/// | `MutualAuthFailed` | `SEC_E_WRONG_PRINCIPAL` |
/// | `Unsupported` | `SEC_E_UNSUPPORTED_FUNCTION` |
/// | `NoCredentials` | `SEC_E_NO_CREDENTIALS` |
/// | `TargetUnknown` | `SEC_E_TARGET_UNKNOWN` |
/// | `DowngradeRefused` | `SEC_E_ALGORITHM_MISMATCH` |
/// | `TokenRequired` | `SEC_E_INCOMPLETE_MESSAGE` |
/// | `OutOfSequence` | `SEC_E_OUT_OF_SEQUENCE` |
/// | `NonceExhausted`, `Stale` | `SEC_E_CONTEXT_EXPIRED` |
/// | `Internal` | `SEC_E_INTERNAL_ERROR` |
/// | `Layer` | `SEC_E_MESSAGE_ALTERED` (integrity failures), `SEC_E_OUT_OF_SEQUENCE` (sequence), `SEC_E_BUFFER_TOO_SMALL` (sizes), `SEC_E_QOP_NOT_SUPPORTED` (no layer), `SEC_E_CONTEXT_EXPIRED` (`SequenceExhausted`: reauthenticate) |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer's token is malformed.
    #[error("malformed token: {0}")]
    Malformed(#[from] ParseError),
    /// Server: the response does not prove knowledge of the password (or the user is
    /// unknown). Client: the server refused the authentication.
    #[error("authentication failed")]
    LogonDenied,
    /// Client: the server's `rspauth` is missing, duplicated or wrong: the server did
    /// not prove that it knows the password.
    #[error("mutual authentication failed: {0}")]
    MutualAuthFailed(&'static str),
    /// The peer asked for something this implementation does not do.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The configuration lacks a username or a secret.
    #[error("no credentials: {0}")]
    NoCredentials(&'static str),
    /// The digest-uri is malformed, or (server) does not name this service and host.
    #[error("bad digest-uri: {0}")]
    TargetUnknown(&'static str),
    /// The peer offered less protection than the context requirements demand; nothing
    /// was sent.
    #[error("downgrade refused: {0}")]
    DowngradeRefused(&'static str),
    /// The call needs a token from the peer (for example the client's first step: the
    /// server speaks first).
    #[error("a token from the peer is required for this step")]
    TokenRequired,
    /// The context is in no state for this call (finished, failed, or not yet
    /// established).
    #[error("call out of sequence: {0}")]
    OutOfSequence(&'static str),
    /// Server: the nonce is unknown or expired, or the nonce-count is not the next one;
    /// the server answers with a `stale=true` challenge.
    #[error("stale nonce")]
    Stale,
    /// The nonce-count cannot be incremented any more (it would pass ffffffff).
    #[error("nonce-count exhausted; authenticate afresh")]
    NonceExhausted,
    /// Something outside the protocol failed (the OS random number generator).
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// A security-layer failure.
    #[error(transparent)]
    Layer(#[from] LayerError),
}

/// The Digest SSP (`SECURITY_STATUS`) code an [`Error`] corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(non_camel_case_types, missing_docs)]
pub enum SspiStatus {
    SEC_E_INVALID_TOKEN,
    SEC_E_LOGON_DENIED,
    SEC_E_WRONG_PRINCIPAL,
    SEC_E_UNSUPPORTED_FUNCTION,
    SEC_E_NO_CREDENTIALS,
    SEC_E_TARGET_UNKNOWN,
    SEC_E_ALGORITHM_MISMATCH,
    SEC_E_INCOMPLETE_MESSAGE,
    SEC_E_OUT_OF_SEQUENCE,
    SEC_E_CONTEXT_EXPIRED,
    SEC_E_MESSAGE_ALTERED,
    SEC_E_BUFFER_TOO_SMALL,
    SEC_E_QOP_NOT_SUPPORTED,
    SEC_E_INTERNAL_ERROR,
}

impl SspiStatus {
    /// The numeric `HRESULT` value from `winerror.h`.
    pub fn code(self) -> u32 {
        match self {
            SspiStatus::SEC_E_INVALID_TOKEN => 0x8009_0308,
            SspiStatus::SEC_E_LOGON_DENIED => 0x8009_030C,
            SspiStatus::SEC_E_WRONG_PRINCIPAL => 0x8009_0322,
            SspiStatus::SEC_E_UNSUPPORTED_FUNCTION => 0x8009_0302,
            SspiStatus::SEC_E_NO_CREDENTIALS => 0x8009_030E,
            SspiStatus::SEC_E_TARGET_UNKNOWN => 0x8009_0303,
            SspiStatus::SEC_E_ALGORITHM_MISMATCH => 0x8009_0331,
            SspiStatus::SEC_E_INCOMPLETE_MESSAGE => 0x8009_0318,
            SspiStatus::SEC_E_OUT_OF_SEQUENCE => 0x8009_0310,
            SspiStatus::SEC_E_CONTEXT_EXPIRED => 0x8009_0317,
            SspiStatus::SEC_E_MESSAGE_ALTERED => 0x8009_030F,
            SspiStatus::SEC_E_BUFFER_TOO_SMALL => 0x8009_0321,
            SspiStatus::SEC_E_QOP_NOT_SUPPORTED => 0x8009_030A,
            SspiStatus::SEC_E_INTERNAL_ERROR => 0x8009_0304,
        }
    }
}

impl Error {
    /// The SSP status code this error corresponds to (see the table on [`Error`]).
    pub fn status(&self) -> SspiStatus {
        match self {
            Error::Malformed(_) => SspiStatus::SEC_E_INVALID_TOKEN,
            Error::LogonDenied => SspiStatus::SEC_E_LOGON_DENIED,
            Error::MutualAuthFailed(_) => SspiStatus::SEC_E_WRONG_PRINCIPAL,
            Error::Unsupported(_) => SspiStatus::SEC_E_UNSUPPORTED_FUNCTION,
            Error::NoCredentials(_) => SspiStatus::SEC_E_NO_CREDENTIALS,
            Error::TargetUnknown(_) => SspiStatus::SEC_E_TARGET_UNKNOWN,
            Error::DowngradeRefused(_) => SspiStatus::SEC_E_ALGORITHM_MISMATCH,
            Error::TokenRequired => SspiStatus::SEC_E_INCOMPLETE_MESSAGE,
            Error::OutOfSequence(_) => SspiStatus::SEC_E_OUT_OF_SEQUENCE,
            Error::Stale | Error::NonceExhausted => SspiStatus::SEC_E_CONTEXT_EXPIRED,
            Error::Internal(_) => SspiStatus::SEC_E_INTERNAL_ERROR,
            Error::Layer(e) => match e {
                LayerError::NoSecurityLayer(_)
                | LayerError::CipherRequired
                | LayerError::UnexpectedCipher => SspiStatus::SEC_E_QOP_NOT_SUPPORTED,
                LayerError::PeerMaxBufOutOfRange(_)
                | LayerError::OwnMaxBufOutOfRange(_)
                | LayerError::MessageTooLarge { .. }
                | LayerError::FrameTooLarge { .. } => SspiStatus::SEC_E_BUFFER_TOO_SMALL,
                LayerError::SequenceMismatch { .. } => SspiStatus::SEC_E_OUT_OF_SEQUENCE,
                LayerError::SequenceExhausted => SspiStatus::SEC_E_CONTEXT_EXPIRED,
                _ => SspiStatus::SEC_E_MESSAGE_ALTERED,
            },
        }
    }
}
