//! The server half: `AcceptSecurityContext` behind rsasl's `Session::step`, with the
//! user's secret and the authorization decision from the application's callback.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rsasl::mechanism::{
    Authentication, Demand, DemandReply, EmptyProvider, MechanismData, Provider, SessionError,
    State,
};
use rsasl::prelude::MessageSent;
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Realm, Service};

use super::authentication_methods;
use super::error::session_error;
use super::layer::{layer_of, Layer};
use super::properties::{DigestOutcome, DigestSecret, DigestServerPolicy, Outcome};
use crate::error::Misuse;
use crate::wire::Response;
use crate::{ServerConfig, ServerContext, Step, StoredSecret};

struct UserProvider<'a> {
    authid: &'a str,
    realm: &'a str,
    authzid: &'a str,
}

impl<'a> Provider<'a> for UserProvider<'a> {
    fn provide(&self, req: &mut Demand<'a>) -> DemandReply<()> {
        req.provide_ref::<AuthId>(self.authid)?
            .provide_ref::<Realm>(self.realm)?
            .provide_ref::<AuthzId>(self.authzid)?
            .done()
    }
}

/// The server half of the rsasl mechanism.
#[derive(Debug, Default)]
pub struct DigestServer {
    ctx: Option<ServerContext>,
    secret: Arc<Mutex<Option<StoredSecret>>>,
    layer: Option<Layer>,
    finished: bool,
    failed: bool,
}

impl DigestServer {
    fn context(&self, session: &MechanismData) -> Result<ServerContext, SessionError> {
        let service = session.need_with::<Service, _, _>(&EmptyProvider, |s| Ok(s.to_owned()))?;
        let host = session.need_with::<Hostname, _, _>(&EmptyProvider, |s| Ok(s.to_owned()))?;
        let policy = session
            .maybe_need_with::<DigestServerPolicy, _, _>(&EmptyProvider, |p| Ok(p.clone()))?
            .unwrap_or_default();
        let cfg = ServerConfig::new(&service, &host).policy(policy);
        let slot = Arc::clone(&self.secret);
        let store = move |_: &str, _: &str| slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        ServerContext::new(cfg, store).map_err(session_error)
    }
}

impl Authentication for DigestServer {
    authentication_methods!();
}

impl DigestServer {
    fn exchange(
        &mut self,
        session: &mut MechanismData,
        input: Option<&[u8]>,
        writer: &mut dyn Write,
    ) -> Result<State, SessionError> {
        if self.finished {
            return Err(SessionError::MechanismDone);
        }
        if self.ctx.is_none() {
            self.ctx = Some(self.context(session)?);
        }
        let ctx = self.ctx.as_mut().ok_or(SessionError::MechanismDone)?;
        let mut who = None;
        if let Some(tok) = input {
            // Look the user's secret up (through the callback) before verifying.
            let r = Response::parse(tok).map_err(|e| session_error(e.into()))?;
            let realm = r.realm.clone().unwrap_or_default();
            let authzid = r.authzid.clone().unwrap_or_default();
            let p = UserProvider {
                authid: &r.username,
                realm: &realm,
                authzid: &authzid,
            };
            let stored =
                match session.maybe_need_with::<DigestSecret, _, _>(&p, |s| Ok(s.clone()))? {
                    Some(s) => Some(StoredSecret::Secret(s)),
                    None => session
                        .maybe_need_with::<Password, _, _>(&p, |pw| {
                            Ok(std::str::from_utf8(pw).ok().map(StoredSecret::password))
                        })?
                        .flatten(),
                };
            *self.secret.lock().unwrap_or_else(|e| e.into_inner()) = stored;
            who = Some((r.username, realm, authzid));
        }
        let step = ctx.step(input);
        self.secret.lock().unwrap_or_else(|e| e.into_inner()).take();
        match step.map_err(session_error)? {
            Step::Continue(tok) => {
                writer.write_all(&tok)?;
                Ok(State::Running)
            }
            Step::Complete(tok) => {
                let (user, realm, authzid) = who.ok_or(SessionError::MechanismDone)?;
                session.validate(&UserProvider {
                    authid: &user,
                    realm: &realm,
                    authzid: &authzid,
                })?;
                let negotiated = ctx
                    .negotiated()
                    .cloned()
                    .ok_or(SessionError::MechanismDone)?;
                self.layer = layer_of(&negotiated, || ctx.security_layer())?;
                self.finished = true;
                let _ = session.action::<DigestOutcome>(
                    &EmptyProvider,
                    &Outcome {
                        negotiated,
                        reauth_ticket: None,
                    },
                );
                writer.write_all(&tok.unwrap_or_default())?;
                Ok(State::Finished(MessageSent::Yes))
            }
        }
    }
}
