//! rsasl client configuration shared by the examples: DIGEST-MD5 (this crate) and,
//! for comparison, rsasl's PLAIN. `--qop` is the minimum protection required (and
//! the qop taken), `--cipher` the only cipher accepted.

use std::sync::{Arc, Mutex};

use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::prelude::*;
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Realm, Service};
use rsasl::validate::NoValidation;

use sasl_digest_md5::mechanism::{ClientPolicy, DigestClientPolicy, DigestOutcome};
use sasl_digest_md5::{Cipher, Qop, Requirements};

use super::{Args, Error, Result};

/// The DIGEST-MD5 policy from `--qop` and `--cipher`.
fn policy(args: &Args) -> Result<ClientPolicy> {
    let qop =
        Qop::from_token(&args.qop).ok_or_else(|| Error(format!("unknown --qop {}", args.qop)))?;
    let requirements = match qop {
        Qop::Auth => Requirements::MUTUAL_AUTH,
        Qop::AuthInt => Requirements::MUTUAL_AUTH | Requirements::INTEGRITY,
        Qop::AuthConf => Requirements::MUTUAL_AUTH | Requirements::CONFIDENTIALITY,
    };
    let ciphers = match &args.cipher {
        // Naming a cipher accepts it, however weak (the rc4-40/rc4-56/des tests);
        // without one, the crate's default floor (112 bits: rc4 or 3des) applies.
        Some(c) => Some(vec![
            Cipher::from_token(c).ok_or_else(|| Error(format!("unknown --cipher {c}")))?
        ]),
        None => None,
    };
    Ok(ClientPolicy {
        requirements,
        max_qop: qop,
        ciphers,
        maxbuf: OWN_MAXBUF,
        ..ClientPolicy::default()
    })
}

/// The client session type the examples drive.
pub type ClientSession = Session<NoValidation>;

/// Mechanisms this client can use.
pub static MECHANISMS: &[Mechanism] =
    &[sasl_digest_md5::DIGEST_MD5, rsasl::mechanisms::plain::PLAIN];

/// The receive buffer size the client advertises (`maxbuf`).
pub const OWN_MAXBUF: u32 = 65536;

/// Names of [`MECHANISMS`], for messages.
pub fn supported() -> Vec<&'static str> {
    MECHANISMS.iter().map(|m| m.mechanism.as_str()).collect()
}

/// Answers rsasl's property requests from the command line.
pub struct Credentials {
    authid: String,
    password: String,
    authzid: Option<String>,
    realm: Option<String>,
    service: String,
    hostname: String,
    /// `--qop` / `--cipher`, for the DIGEST-MD5 mechanism's qop/cipher choice.
    pub policy: ClientPolicy,
    /// Filled by the mechanism's "negotiated layer" action (DIGEST-MD5);
    /// `None` means no layer information was reported.
    pub negotiated: Arc<Mutex<Option<String>>>,
}

impl SessionCallback for Credentials {
    fn callback(
        &self,
        _session_data: &SessionData,
        _context: &Context,
        request: &mut Request,
    ) -> Result<(), SessionError> {
        if let Some(outcome) = request.get_action::<DigestOutcome>() {
            let n = &outcome.negotiated;
            let cipher = n.cipher.map_or("none".to_string(), |c| c.to_string());
            *self.negotiated.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("qop={} cipher={cipher}", n.qop));
            return Ok(());
        }
        // `satisfy` returns Err once the request is matched, ending the callback.
        request.satisfy::<AuthId>(self.authid.as_str())?;
        request.satisfy::<Password>(self.password.as_bytes())?;
        if let Some(z) = &self.authzid {
            request.satisfy::<AuthzId>(z.as_str())?;
        }
        if let Some(r) = &self.realm {
            request.satisfy::<Realm>(r.as_str())?;
        }
        request.satisfy::<Service>(self.service.as_str())?;
        request.satisfy::<Hostname>(self.hostname.as_str())?;
        request.satisfy::<DigestClientPolicy>(&self.policy)?;
        Ok(())
    }
}

/// A started client session plus what the examples report about it.
pub struct Client {
    pub session: ClientSession,
    pub mechanism: String,
    negotiated: Arc<Mutex<Option<String>>>,
}

/// Start a client session for `service` ("ldap", "imap", "xmpp") choosing
/// `--mech` among the mechanisms the server `offered`.
pub fn start(args: &Args, service: &str, offered: &[String]) -> Result<Client> {
    start_with(args, service, offered, MECHANISMS)
}

/// [`start`] with another set of mechanisms (tests).
pub fn start_with(
    args: &Args,
    service: &str,
    offered: &[String],
    mechanisms: &'static [Mechanism],
) -> Result<Client> {
    if !offered.iter().any(|m| m.eq_ignore_ascii_case(&args.mech)) {
        return Err(Error(format!(
            "server does not offer {} (it offers: {})",
            args.mech,
            if offered.is_empty() {
                "nothing".to_string()
            } else {
                offered.join(" ")
            }
        )));
    }
    if args.mech != "DIGEST-MD5" && (args.qop != "auth" || args.cipher.is_some()) {
        progress!(
            "note: --qop/--cipher only apply to DIGEST-MD5; ignored for {}",
            args.mech
        );
    }
    let negotiated = Arc::new(Mutex::new(None));
    let creds = Credentials {
        authid: args.user.clone(),
        password: args.password.clone(),
        authzid: args.authzid.clone(),
        realm: args.realm.clone(),
        service: service.to_string(),
        hostname: args.host.clone(),
        policy: policy(args)?,
        negotiated: negotiated.clone(),
    };
    let config = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(mechanisms))
        .with_callback(creds)
        .map_err(|e| Error(format!("SASL configuration: {e}")))?;
    let wanted = Mechname::parse(args.mech.as_bytes())
        .map_err(|e| Error(format!("bad mechanism name '{}': {e}", args.mech)))?;
    let session = SASLClient::new(config)
        .start_suggested(&[wanted])
        .map_err(|e| match e {
            SASLError::NoSharedMechanism => Error(format!(
                "mechanism {} is not available in this client (it supports: {})",
                args.mech,
                mechanisms
                    .iter()
                    .map(|m| m.mechanism.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            e => Error(format!("starting SASL {}: {e}", args.mech)),
        })?;
    let mechanism = session.get_mechname().as_str().to_string();
    progress!("SASL mechanism: {mechanism}");
    Ok(Client {
        session,
        mechanism,
        negotiated,
    })
}

/// Result of one SASL step.
pub struct Step {
    /// The exchange is complete on our side.
    pub finished: bool,
    /// The message to send, if the mechanism produced one (may be empty).
    pub output: Option<Vec<u8>>,
}

impl Client {
    /// Whether the client sends the first message (PLAIN: yes, DIGEST-MD5: no).
    pub fn client_first(&self) -> bool {
        self.session.are_we_first()
    }

    /// Feed `input` (None: no server data) and get the next message.
    pub fn step(&mut self, input: Option<&[u8]>) -> Result<Step> {
        let mut out = Vec::new();
        let state = self
            .session
            .step(input, &mut out)
            .map_err(|e| Error(format!("SASL {}: {e}", self.mechanism)))?;
        Ok(Step {
            finished: state.is_finished(),
            output: state.has_sent_message().then_some(out),
        })
    }

    /// The `negotiated: qop=Q cipher=C` line, printed once authenticated.
    pub fn negotiated_line(&self) -> String {
        let reported = self.negotiated.lock().unwrap().clone();
        match reported {
            Some(s) => format!("negotiated: {s}"),
            None if !self.session.has_security_layer() => "negotiated: qop=auth cipher=none".into(),
            None => "negotiated: security layer installed (details not reported)".into(),
        }
    }

    /// Give up the session (for [`super::secure`]).
    pub fn into_session(self) -> ClientSession {
        self.session
    }
}
