//! rsasl callbacks and sessions for DIGEST-MD5 exchanges in memory (alice on
//! `ldap/ldap.example.com`), shared by `tests/mechanism.rs` and the fuzz targets
//! `mechanism_client` and `mechanism_server`, which include it by `#[path]`: it uses
//! nothing but rsasl and this crate.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::prelude::*;
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Realm, Service};
use rsasl::validate::{NoValidation, Validate, ValidationError};
use sasl_digest_md5::mechanism::{
    ClientPolicy, DigestClientPolicy, DigestOutcome, DigestReauthTicket, DigestServerPolicy,
    OfferedRealms, Outcome, ServerPolicy,
};
use sasl_digest_md5::{ReauthTicket, DIGEST_MD5};

pub static MECHS: &[Mechanism] = &[DIGEST_MD5];
pub const SERVICE: &str = "ldap";
pub const HOST: &str = "ldap.example.com";
/// The authentication identity of every client.
pub const USER: &str = "alice";

/// Stores the outcome if `req` is the DIGEST-MD5 outcome action (and says whether it
/// was).
fn keep_outcome(req: &mut Request, sink: &Mutex<Option<Outcome>>) -> bool {
    match req.get_action::<DigestOutcome>() {
        Some(o) => {
            *sink.lock().unwrap() = Some(o.clone());
            true
        }
        None => false,
    }
}

/// The client's callback: [`USER`] with `password`, asking for `authzid` if set.
#[derive(Default)]
pub struct ClientCb {
    pub password: &'static str,
    pub authzid: Option<&'static str>,
    pub policy: ClientPolicy,
    /// The realm to answer with (`None`: the mechanism takes the first offered).
    pub pick_realm: Option<&'static str>,
    /// The realms the server offered, as the realm request saw them.
    pub seen_realms: Mutex<Vec<String>>,
    /// The outcome of the finished exchange.
    pub outcome: Arc<Mutex<Option<Outcome>>>,
    /// A ticket for a subsequent authentication (client-first).
    pub ticket: Option<ReauthTicket>,
}

impl SessionCallback for ClientCb {
    fn callback(
        &self,
        _: &SessionData,
        ctx: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        if keep_outcome(req, &self.outcome) {
            return Ok(());
        }
        if req.is::<Realm>() {
            *self.seen_realms.lock().unwrap() =
                ctx.get_ref::<OfferedRealms>().unwrap_or(&[]).to_vec();
            if let Some(r) = self.pick_realm {
                req.satisfy::<Realm>(r)?;
            }
            return Ok(());
        }
        if let Some(t) = &self.ticket {
            req.satisfy::<DigestReauthTicket>(t)?;
        }
        if let Some(z) = self.authzid {
            req.satisfy::<AuthzId>(z)?;
        }
        req.satisfy::<AuthId>(USER)?
            .satisfy::<Password>(self.password.as_bytes())?
            .satisfy::<Service>(SERVICE)?
            .satisfy::<Hostname>(HOST)?
            .satisfy::<DigestClientPolicy>(&self.policy)?;
        Ok(())
    }
}

/// What the server's validation gives: `(authcid, authzid)` (`""`: none).
pub struct Authenticated;
impl Validation for Authenticated {
    type Value = (String, String);
}

/// The server's callback.
pub struct ServerCb {
    pub policy: ServerPolicy,
    /// A user's password; `None` for an unknown user.
    pub password_of: fn(&str) -> Option<&'static str>,
    /// Validation asserts that the exchange has a realm.
    pub require_realm: bool,
    /// The outcome of the finished exchange.
    pub outcome: Arc<Mutex<Option<Outcome>>>,
}

impl ServerCb {
    pub fn new(policy: ServerPolicy, password_of: fn(&str) -> Option<&'static str>) -> ServerCb {
        ServerCb {
            policy,
            password_of,
            require_realm: false,
            outcome: Arc::default(),
        }
    }
}

impl SessionCallback for ServerCb {
    fn callback(
        &self,
        _: &SessionData,
        ctx: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        if keep_outcome(req, &self.outcome) {
            return Ok(());
        }
        if req.is::<Password>() {
            if let Some(p) = ctx.get_ref::<AuthId>().and_then(self.password_of) {
                req.satisfy::<Password>(p.as_bytes())?;
            }
            return Ok(());
        }
        req.satisfy::<Service>(SERVICE)?
            .satisfy::<Hostname>(HOST)?
            .satisfy::<DigestServerPolicy>(&self.policy)?;
        Ok(())
    }

    fn validate(
        &self,
        _: &SessionData,
        ctx: &Context,
        v: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        let user = ctx.get_ref::<AuthId>().unwrap_or_default().to_owned();
        let authzid = ctx.get_ref::<AuthzId>().unwrap_or_default().to_owned();
        if self.require_realm {
            assert!(ctx.get_ref::<Realm>().is_some());
        }
        v.finalize::<Authenticated>((user, authzid));
        Ok(())
    }
}

/// A DIGEST-MD5 client session with this callback.
pub fn client_session(cb: impl SessionCallback + 'static) -> Session<NoValidation> {
    let cfg = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(cb)
        .expect("client config");
    let name = Mechname::parse(b"DIGEST-MD5").unwrap();
    SASLClient::new(cfg)
        .start_suggested(&[name])
        .expect("client mechanism")
}

/// A DIGEST-MD5 server session with this callback.
pub fn server_session(cb: ServerCb) -> Session<Authenticated> {
    let cfg = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(cb)
        .expect("server config");
    let name = Mechname::parse(b"DIGEST-MD5").unwrap();
    SASLServer::<Authenticated>::new(cfg)
        .start_suggested(name)
        .expect("server mechanism")
}
