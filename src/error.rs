//! Typed errors, and their mapping onto the Digest SSP's status codes.

use std::fmt;

use crate::layer::LayerError;
use crate::{Cipher, CipherSet, Qop, QopSet};

/// Why a side refused to go on with less protection than its policy demands
/// (the payload of [`Error::DowngradeRefused`]). Its `Display` says what the peer
/// offered and what setting would accept it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Downgrade {
    /// Client: confidentiality is required and the server does not offer `auth-conf`.
    ConfidentialityNotOffered {
        /// The qops the server offered.
        offered: QopSet,
    },
    /// Client: integrity is required and the server offers neither `auth-int` nor
    /// `auth-conf`.
    IntegrityNotOffered {
        /// The qops the server offered.
        offered: QopSet,
    },
    /// Client: `auth-conf` was needed, and no offered cipher is in the client's list,
    /// at or above its strength floor, and usable with both maxbufs (des and 3des need
    /// at least 22).
    NoAcceptableCipher {
        /// The ciphers the server offered.
        offered: CipherSet,
        /// The ciphers the client accepts.
        allowed: CipherSet,
        /// The client's strength floor in bits.
        floor: u32,
    },
    /// Client: the reauthentication ticket's qop or cipher does not satisfy the
    /// policy in force (resuming would silently weaken the connection).
    TicketBelowPolicy {
        /// The ticket's qop.
        qop: Qop,
        /// The ticket's cipher.
        cipher: Option<Cipher>,
    },
    /// Server: the client chose a qop that was not offered.
    QopNotOffered(Qop),
    /// Server: the client chose a cipher that was not offered (or is below the
    /// server's strength floor).
    CipherNotOffered(Cipher),
}

impl std::error::Error for Downgrade {}

impl fmt::Display for Downgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Downgrade::ConfidentialityNotOffered { offered } => write!(
                f,
                "confidentiality required but the server does not offer auth-conf (offered qop: {offered})"
            ),
            Downgrade::IntegrityNotOffered { offered } => write!(
                f,
                "integrity required but the server offers neither auth-int nor auth-conf (offered qop: {offered})"
            ),
            Downgrade::NoAcceptableCipher {
                offered,
                allowed,
                floor,
            } => {
                write!(f, "no offered cipher is acceptable: server offered {offered}")?;
                let listed: CipherSet = offered.iter().filter(|c| allowed.contains(*c)).collect();
                match listed.iter().map(Cipher::strength).max() {
                    None => write!(f, "; none is in the client's cipher list ({allowed})"),
                    Some(best) if best < *floor => write!(
                        f,
                        "; lower min_cipher_strength to {best} to accept it (floor is {floor} bits)"
                    ),
                    Some(_) => f.write_str("; des/3des need a maxbuf of at least 22 on both sides"),
                }
            }
            Downgrade::TicketBelowPolicy { qop, cipher } => {
                write!(f, "the reauthentication ticket is for qop {qop}")?;
                if let Some(c) = cipher {
                    write!(f, " with cipher {c}")?;
                }
                f.write_str(", which the current policy does not allow; authenticate afresh")
            }
            Downgrade::QopNotOffered(q) => {
                write!(f, "the client chose a qop that was not offered ({q})")
            }
            Downgrade::CipherNotOffered(c) => {
                write!(f, "the client chose a cipher that was not offered ({c})")
            }
        }
    }
}

/// A directive of the RFC 2831 tokens, as named in a [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DirectiveName {
    /// `realm`
    Realm,
    /// `nonce`
    Nonce,
    /// `qop`
    Qop,
    /// `stale`
    Stale,
    /// `maxbuf`
    Maxbuf,
    /// `charset`
    Charset,
    /// `algorithm`
    Algorithm,
    /// `cipher`
    Cipher,
    /// `username`
    Username,
    /// `cnonce`
    Cnonce,
    /// `nc`
    Nc,
    /// `digest-uri`
    DigestUri,
    /// `response`
    Response,
    /// `authzid`
    Authzid,
    /// `rspauth`
    Rspauth,
    /// A directive this implementation does not interpret.
    Other,
}

impl DirectiveName {
    /// The name on the wire (`"digest-uri"`; `"directive"` for [`DirectiveName::Other`]).
    pub fn as_str(self) -> &'static str {
        match self {
            DirectiveName::Realm => "realm",
            DirectiveName::Nonce => "nonce",
            DirectiveName::Qop => "qop",
            DirectiveName::Stale => "stale",
            DirectiveName::Maxbuf => "maxbuf",
            DirectiveName::Charset => "charset",
            DirectiveName::Algorithm => "algorithm",
            DirectiveName::Cipher => "cipher",
            DirectiveName::Username => "username",
            DirectiveName::Cnonce => "cnonce",
            DirectiveName::Nc => "nc",
            DirectiveName::DigestUri => "digest-uri",
            DirectiveName::Response => "response",
            DirectiveName::Authzid => "authzid",
            DirectiveName::Rspauth => "rspauth",
            DirectiveName::Other => "directive",
        }
    }
}

impl fmt::Display for DirectiveName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a directive's value ([`ParseError::InvalidValue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidReason {
    /// The value is empty.
    #[error("empty")]
    Empty,
    /// The value is not US-ASCII.
    #[error("not US-ASCII")]
    NotAscii,
    /// `qop` names no known qop.
    #[error("unknown qop")]
    UnknownQop,
    /// `cipher` names no known cipher.
    #[error("unknown cipher")]
    UnknownCipher,
    /// `algorithm` is not `md5-sess`.
    #[error("must be md5-sess")]
    NotMd5Sess,
    /// `nc` is not exactly 8 hex digits.
    #[error("must be 8 hex digits")]
    NotEightHexDigits,
    /// `response`/`rspauth` is not exactly 32 hex digits.
    #[error("must be 32 hex digits")]
    NotThirtyTwoHexDigits,
    /// `charset` is not `utf-8` (the only value RFC 2831 defines).
    #[error("only utf-8 is defined")]
    NotUtf8Charset,
    /// `maxbuf` is not a number in 17..=16777215.
    #[error("must be a number in 17..=16777215")]
    MaxbufOutOfRange,
    /// `cipher` with a qop other than `auth-conf`.
    #[error("only with qop=auth-conf")]
    CipherWithoutAuthConf,
    /// Server: `realm` names a realm the server did not offer.
    #[error("not a realm the server offered")]
    RealmNotOffered,
}

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
    Missing(DirectiveName),
    /// A directive that may appear once appeared again.
    #[error("duplicated directive `{0}`")]
    Duplicate(DirectiveName),
    /// A directive whose value is not allowed.
    #[error("invalid value for `{directive}`: {reason}")]
    InvalidValue {
        /// The directive.
        directive: DirectiveName,
        /// What is wrong with it.
        reason: InvalidReason,
    },
    /// A value that must be UTF-8 (because `charset=utf-8` is in play) is not.
    #[error("`{0}` is not valid UTF-8 although charset=utf-8")]
    InvalidUtf8(DirectiveName),
}

/// Client: how the server failed to prove that it knows the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RspauthFailure {
    /// `rspauth` has the wrong value.
    #[error("wrong rspauth")]
    Wrong,
    /// The server's token has no `rspauth` (an empty token, another directive, or a
    /// second challenge).
    #[error("no rspauth")]
    Missing,
    /// Two `rspauth` directives.
    #[error("duplicated rspauth")]
    Duplicated,
    /// A reauthentication was answered by a challenge with another nonce and without
    /// `stale=true`.
    #[error("challenge instead of rspauth")]
    ChallengeInsteadOfRspauth,
}

/// Which part of a digest-uri (`serv-type/host[/serv-name]`) is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriPart {
    /// The `serv-type` (service).
    Service,
    /// The host.
    Host,
    /// The optional `serv-name`.
    ServName,
}

impl fmt::Display for UriPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriPart::Service => "service",
            UriPart::Host => "host",
            UriPart::ServName => "serv-name",
        })
    }
}

/// Why a digest-uri was refused: malformed (a [`Target`](crate::Target) being built,
/// or a response's `digest-uri`), or (server) naming another service or host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// A part is empty where it may not be (host, serv-name).
    #[error("empty {0}")]
    Empty(UriPart),
    /// A part is not printable US-ASCII, or holds `/`, a quote, a backslash or a bad
    /// percent-escape.
    #[error("{0} is not printable US-ASCII (use percent-encoding)")]
    NotPrintable(UriPart),
    /// No `/` in the digest-uri.
    #[error("no '/' in digest-uri")]
    NoSlash,
    /// Server: the digest-uri names another service.
    #[error("the digest-uri names another service")]
    OtherService,
    /// Server: the digest-uri names another host.
    #[error("the digest-uri names another host")]
    OtherHost,
}

/// A configuration the context cannot work with: the caller's to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Client: the username is empty.
    #[error("empty username")]
    EmptyUsername,
    /// Client: the authzid is empty (leave it unset for none).
    #[error("empty authzid (leave it unset for none)")]
    EmptyAuthzid,
    /// The password is not UTF-8 (rsasl hands passwords as bytes).
    #[error("the password is not UTF-8")]
    PasswordNotUtf8,
    /// Our `maxbuf` is outside 17..=16777215.
    #[error("maxbuf {0} is outside 17..=16777215")]
    MaxBufOutOfRange(u32),
    /// Server: no qop to offer.
    #[error("no qop to offer")]
    NoQopToOffer,
    /// Server: `auth-conf` offered with no cipher (or none above the strength floor).
    #[error("auth-conf offered without a cipher (or none above the strength floor)")]
    NoCipherToOffer,
    /// Server: our `maxbuf` is below 22 and cannot carry a des/3des frame, and the
    /// client chose one.
    #[error("our maxbuf {0} is below 22 and cannot carry des/3des frames")]
    MaxBufTooSmallForBlockCipher(u32),
    /// Server: the realms make the challenge longer than 2048 bytes.
    #[error(
        "the challenge would be {0} bytes, above the limit of 2048 (too many or too long realms)"
    )]
    ChallengeTooLong(usize),
    /// Client: the names make the response longer than 4096 bytes.
    #[error("the response would be {0} bytes, above the limit of 4096 (names too long)")]
    ResponseTooLong(usize),
}

/// A call the context was in no state for: the caller's to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// The context (or rsasl exchange) failed earlier; start a new one.
    #[error("the context has failed")]
    Failed,
    /// The context is established: no token is expected (a reauthentication starts
    /// with `step(None)` on the client).
    #[error("the context is established; no token expected")]
    Established,
    /// The context is not established yet.
    #[error("the context is not established")]
    NotEstablished,
    /// The security layer was already taken for this authentication (a second pair
    /// would reuse the keystream).
    #[error("the security layer was already taken")]
    LayerAlreadyTaken,
}

/// Everything that can go wrong while establishing or using a DIGEST-MD5 context.
///
/// Faults of the peer ([`Error::is_peer_fault`]: `Malformed`, `LogonDenied`,
/// `MutualAuthFailed`, `DowngradeRefused`, `ServerRequiresLayer`, `Stale`, and a
/// `Layer` error while unsealing) are apart from the caller's misuse (`TokenRequired`,
/// `OutOfSequence`) and from configuration errors (`Config`). [`Error::status`] maps
/// each onto the Digest SSP's failure code, so code ported from Windows can keep its
/// error handling:
///
/// | variant | SSP status |
/// |---|---|
/// | `Malformed` | `SEC_E_INVALID_TOKEN` |
/// | `LogonDenied` | `SEC_E_LOGON_DENIED` |
/// | `MutualAuthFailed` | `SEC_E_WRONG_PRINCIPAL` |
/// | `ServerRequiresLayer` | `SEC_E_UNSUPPORTED_FUNCTION` |
/// | `Config` | `SEC_E_NO_CREDENTIALS` (empty username or authzid, password not UTF-8), `SEC_E_UNSUPPORTED_FUNCTION` (the rest) |
/// | `TargetUnknown` | `SEC_E_TARGET_UNKNOWN` |
/// | `DowngradeRefused` | `SEC_E_ALGORITHM_MISMATCH` |
/// | `TokenRequired` | `SEC_E_INCOMPLETE_MESSAGE` |
/// | `OutOfSequence` | `SEC_E_OUT_OF_SEQUENCE` |
/// | `NonceExhausted`, `Stale` | `SEC_E_CONTEXT_EXPIRED` |
/// | `RandomUnavailable` | `SEC_E_INTERNAL_ERROR` |
/// | `Layer` | `SEC_E_MESSAGE_ALTERED` (integrity failures), `SEC_E_OUT_OF_SEQUENCE` (sequence), `SEC_E_BUFFER_TOO_SMALL` (sizes), `SEC_E_QOP_NOT_SUPPORTED` (no layer), `SEC_E_CONTEXT_EXPIRED` (`SequenceExhausted`: reauthenticate) |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer's token is malformed.
    #[error("malformed token: {0}")]
    Malformed(#[from] ParseError),
    /// Server only: the response does not prove knowledge of the password, or the
    /// user is unknown (the two are indistinguishable on purpose). A client learns of
    /// a refused authentication from its protocol (LDAP result 49, IMAP `NO`, ...),
    /// not from this crate.
    #[error("authentication failed")]
    LogonDenied,
    /// Client: the server did not prove that it knows the password.
    #[error("mutual authentication failed: {0}")]
    MutualAuthFailed(RspauthFailure),
    /// Client: the server offers only security layers, and the policy allows qop
    /// `auth` only (raise [`ClientConfig::max_qop`](crate::ClientConfig::max_qop) to
    /// accept one).
    #[error("the server offers only security layers ({offered}) and the policy allows qop auth only; raise max_qop to accept one")]
    ServerRequiresLayer {
        /// The qops the server offered.
        offered: QopSet,
    },
    /// The configuration cannot work.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The digest-uri is malformed, or (server) does not name this service and host.
    #[error("bad digest-uri: {0}")]
    TargetUnknown(#[from] TargetError),
    /// The peer offered (client) or chose (server) less protection than the policy
    /// demands; nothing was sent.
    #[error("downgrade refused: {0}")]
    DowngradeRefused(#[from] Downgrade),
    /// The call needs a token from the peer (for example the client's first step: the
    /// server speaks first). Nothing changed; call again with the token.
    #[error("a token from the peer is required for this step")]
    TokenRequired,
    /// The context is in no state for this call.
    #[error("call out of sequence: {0}")]
    OutOfSequence(#[from] Misuse),
    /// Server: the nonce is unknown or expired, or the nonce-count is not the next one;
    /// the server answers with a `stale=true` challenge.
    #[error("stale nonce")]
    Stale,
    /// The nonce-count cannot be incremented any more (it would pass ffffffff).
    #[error("nonce-count exhausted; authenticate afresh")]
    NonceExhausted,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    RandomUnavailable,
    /// A security-layer failure.
    #[error(transparent)]
    Layer(#[from] LayerError),
}

impl Error {
    /// Whether the credentials were refused: wrong password or unknown user (server),
    /// or a server that could not prove it knows the password (client).
    pub fn is_bad_credentials(&self) -> bool {
        matches!(self, Error::LogonDenied | Error::MutualAuthFailed(_))
    }

    /// Whether a side refused to go on with less protection than its policy demands.
    pub fn is_downgrade(&self) -> bool {
        matches!(self, Error::DowngradeRefused(_))
    }

    /// Whether the peer did something wrong (a malformed or forged token, a refused
    /// proof, a downgrade, a stale nonce, a tampered, replayed or oversized frame), as
    /// opposed to the caller ([`Error::is_misuse`]) or the configuration.
    pub fn is_peer_fault(&self) -> bool {
        match self {
            Error::Malformed(_)
            | Error::LogonDenied
            | Error::MutualAuthFailed(_)
            | Error::DowngradeRefused(_)
            | Error::ServerRequiresLayer { .. }
            | Error::Stale => true,
            Error::TargetUnknown(t) => matches!(
                t,
                TargetError::OtherService | TargetError::OtherHost | TargetError::NoSlash
            ),
            Error::Layer(e) => matches!(
                e,
                LayerError::PeerMaxBufOutOfRange(_)
                    | LayerError::FrameTooShort { .. }
                    | LayerError::FrameTooLarge { .. }
                    | LayerError::NotBlockAligned { .. }
                    | LayerError::WrongMessageType(_)
                    | LayerError::SequenceMismatch { .. }
                    | LayerError::IntegrityCheckFailed
            ),
            _ => false,
        }
    }

    /// Whether the caller used the API out of order.
    pub fn is_misuse(&self) -> bool {
        matches!(self, Error::TokenRequired | Error::OutOfSequence(_))
    }
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
            Error::ServerRequiresLayer { .. } => SspiStatus::SEC_E_UNSUPPORTED_FUNCTION,
            Error::Config(
                ConfigError::EmptyUsername
                | ConfigError::EmptyAuthzid
                | ConfigError::PasswordNotUtf8,
            ) => SspiStatus::SEC_E_NO_CREDENTIALS,
            Error::Config(_) => SspiStatus::SEC_E_UNSUPPORTED_FUNCTION,
            Error::TargetUnknown(_) => SspiStatus::SEC_E_TARGET_UNKNOWN,
            Error::DowngradeRefused(_) => SspiStatus::SEC_E_ALGORITHM_MISMATCH,
            Error::TokenRequired => SspiStatus::SEC_E_INCOMPLETE_MESSAGE,
            Error::OutOfSequence(_) => SspiStatus::SEC_E_OUT_OF_SEQUENCE,
            Error::Stale | Error::NonceExhausted => SspiStatus::SEC_E_CONTEXT_EXPIRED,
            Error::RandomUnavailable => SspiStatus::SEC_E_INTERNAL_ERROR,
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
