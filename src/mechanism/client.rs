//! The client half: `InitializeSecurityContext` behind rsasl's `Session::step`.

use std::io::Write;

use rsasl::mechanism::{
    Authentication, Demand, DemandReply, EmptyProvider, MechanismData, Provider, SessionError,
    State,
};
use rsasl::prelude::MessageSent;
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Realm, Service};

use super::authentication_methods;
use super::error::session_error;
use super::layer::{layer_of, Layer};
use super::properties::{
    DigestClientPolicy, DigestOutcome, DigestReauthTicket, DigestSecret, OfferedRealms, Outcome,
};
use crate::error::{ConfigError, Misuse};
use crate::wire::Challenge;
use crate::{ClientConfig, ClientContext, Credential, ReauthTicket, Step, Target};

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
