//! What was negotiated, one call away after an rsasl authentication.

use std::sync::{Arc, Mutex};

use rsasl::prelude::SessionError;

use super::properties::{DigestOutcome, Outcome};
use crate::{Negotiated, ReauthTicket};

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
