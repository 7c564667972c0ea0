//! Errors: this crate's [`Error`] inside rsasl's `SessionError`, and the way back
//! ([`SessionErrorExt`]).

use rsasl::mechanism::{MechanismError, MechanismErrorKind, SessionError};

use crate::Error;

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

pub(super) fn session_error(e: Error) -> SessionError {
    match e {
        Error::TokenRequired => SessionError::InputDataRequired,
        Error::MutualAuthFailed(_) => SessionError::MutualAuthenticationFailed,
        e => DigestMechanismError(e).into(),
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
