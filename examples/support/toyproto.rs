//! A minimal line protocol for showing and testing DIGEST-MD5 over TCP through rsasl
//! and the secure stream (used by `examples/demo.rs` and the soak/fault tests):
//!
//! ```text
//! S: S <base64 challenge>
//! C: C <base64 response>
//! S: OK <base64 rspauth>      (or: NO <reason>)
//! ... then, with auth-int/auth-conf, length-prefixed sealed frames both ways;
//!     the server echoes whatever it receives.
//! ```
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::prelude::*;
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Service};
use rsasl::validate::{Validate, ValidationError};
use sasl_digest_md5::mechanism::{
    ClientPolicy, DigestClientPolicy, DigestOutcome, DigestServerPolicy, Outcome, ServerPolicy,
};
use sasl_digest_md5::stream::SecureStream;
use sasl_digest_md5::{CipherSet, QopSet, DIGEST_MD5};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

static MECHS: &[Mechanism] = &[DIGEST_MD5];
pub const USER: &str = "alice";
pub const PASSWORD: &str = "secret";
pub const HOST: &str = "localhost";
pub const SERVICE: &str = "demo";

pub struct ClientCb {
    pub password: String,
    pub policy: ClientPolicy,
    pub outcome: Mutex<Option<Outcome>>,
}

impl SessionCallback for ClientCb {
    fn callback(
        &self,
        _: &SessionData,
        _: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        if let Some(o) = req.get_action::<DigestOutcome>() {
            *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(o.clone());
            return Ok(());
        }
        req.satisfy::<AuthId>(USER)?
            .satisfy::<Password>(self.password.as_bytes())?
            .satisfy::<Service>(SERVICE)?
            .satisfy::<Hostname>(HOST)?
            .satisfy::<DigestClientPolicy>(&self.policy)?;
        Ok(())
    }
}

struct Shared(Arc<ClientCb>);
impl SessionCallback for Shared {
    fn callback(&self, s: &SessionData, c: &Context, r: &mut Request) -> Result<(), SessionError> {
        self.0.callback(s, c, r)
    }
}

pub struct ServerCb;
pub struct LoggedIn;
impl Validation for LoggedIn {
    type Value = String;
}

impl SessionCallback for ServerCb {
    fn callback(
        &self,
        _: &SessionData,
        ctx: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        if req.is::<Password>() {
            if ctx.get_ref::<AuthId>() == Some(USER) {
                req.satisfy::<Password>(PASSWORD.as_bytes())?;
            }
            return Ok(());
        }
        let policy = ServerPolicy {
            realms: vec!["demo.example".into()],
            qops: QopSet::ALL,
            ciphers: CipherSet::ALL,
            ..ServerPolicy::default()
        };
        req.satisfy::<Service>(SERVICE)?
            .satisfy::<Hostname>(HOST)?
            .satisfy::<DigestServerPolicy>(&policy)?;
        Ok(())
    }

    fn validate(
        &self,
        _: &SessionData,
        ctx: &Context,
        v: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        // The authorization decision: alice may only act as herself.
        let user = ctx.get_ref::<AuthId>().unwrap_or_default();
        let authzid = ctx.get_ref::<AuthzId>().unwrap_or_default();
        if authzid.is_empty() || authzid == user {
            v.finalize::<LoggedIn>(user.to_owned());
        }
        Ok(())
    }
}

pub fn server_config() -> Result<Arc<SASLConfig>, Error> {
    Ok(SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(ServerCb)?)
}

async fn line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<String, Error> {
    let mut l = String::new();
    if r.read_line(&mut l).await? == 0 {
        return Err("connection closed during authentication".into());
    }
    Ok(l.trim_end().to_owned())
}

/// Serves one connection: authenticates, then echoes through the layer until EOF.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    cfg: Arc<SASLConfig>,
) -> Result<(), Error> {
    let mut io = BufReader::new(io);
    let mut session =
        SASLServer::<LoggedIn>::new(cfg).start_suggested(Mechname::parse(b"DIGEST-MD5")?)?;
    let mut out = Vec::new();
    session.step(None, &mut out)?;
    io.write_all(format!("S {}\n", B64.encode(&out)).as_bytes())
        .await?;
    let l = line(&mut io).await?;
    let resp = B64.decode(l.strip_prefix("C ").ok_or("expected a response")?)?;
    out.clear();
    match session.step(Some(&resp), &mut out) {
        Ok(_) if session.validation().is_some() => {
            io.write_all(format!("OK {}\n", B64.encode(&out)).as_bytes())
                .await?;
        }
        other => {
            io.write_all(b"NO authentication failed\n").await?;
            return Err(format!("authentication failed: {other:?}").into());
        }
    }
    if !session.has_security_layer() {
        return Ok(());
    }
    let mut secure = SecureStream::with_session(io, session)?;
    let mut buf = vec![0u8; 70_000];
    loop {
        let n = secure.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        secure.write_all(&buf[..n]).await?;
        secure.flush().await?;
    }
}

/// Any bidirectional byte stream.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What a client connection ended up with.
pub struct Connected {
    pub outcome: Outcome,
    /// The tokens exchanged, for display.
    pub transcript: Vec<(char, Vec<u8>)>,
    /// The secure stream, when a layer was negotiated.
    pub stream: Option<Box<dyn Io>>,
}

/// Authenticates as a client over `io`.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: S,
    password: &str,
    policy: ClientPolicy,
) -> Result<Connected, Error> {
    let mut io = BufReader::new(io);
    let cb = Arc::new(ClientCb {
        password: password.to_owned(),
        policy,
        outcome: Mutex::new(None),
    });
    let cfg = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(Shared(cb.clone()))?;
    let mut session = SASLClient::new(cfg).start_suggested(&[Mechname::parse(b"DIGEST-MD5")?])?;
    let mut transcript = Vec::new();
    let l = line(&mut io).await?;
    let challenge = B64.decode(l.strip_prefix("S ").ok_or("expected a challenge")?)?;
    let mut out = Vec::new();
    session.step(Some(&challenge), &mut out)?;
    transcript.push(('S', challenge));
    io.write_all(format!("C {}\n", B64.encode(&out)).as_bytes())
        .await?;
    transcript.push(('C', out));
    let l = line(&mut io).await?;
    let rspauth = B64.decode(l.strip_prefix("OK ").ok_or(format!("server said: {l}"))?)?;
    session.step(Some(&rspauth), &mut Vec::new())?;
    transcript.push(('S', rspauth));
    let outcome = cb
        .outcome
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or("no outcome")?;
    let stream = if session.has_security_layer() {
        Some(Box::new(SecureStream::with_session(io, session)?) as Box<dyn Io>)
    } else {
        None
    };
    Ok(Connected {
        outcome,
        transcript,
        stream,
    })
}
