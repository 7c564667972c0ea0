//! An rsasl client and server over TCP on 127.0.0.1: DIGEST-MD5 with confidentiality
//! required, what was negotiated read from the outcome, then a request and its answer
//! through the secure stream. The SASL tokens travel in a toy framing (a 4-byte length
//! then the token); a real protocol carries them in its own messages.
//!
//! `cargo run --example rsasl_auth_conf`

use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::prelude::*;
use rsasl::property::{AuthId, AuthzId, Hostname, Password, Service};
use rsasl::validate::{Validate, ValidationError};
use sasl_digest_md5::mechanism::{
    DigestClientPolicy, DigestServerPolicy, KeepOutcome, SessionStream,
};
use sasl_digest_md5::{ClientPolicy, ServerPolicy, DIGEST_MD5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static MECHS: &[Mechanism] = &[DIGEST_MD5];

struct Client;
impl SessionCallback for Client {
    fn callback(
        &self,
        _: &SessionData,
        _: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        req.satisfy::<AuthId>("alice")?
            .satisfy::<Password>(b"secret")?
            .satisfy::<Service>("ldap")?
            .satisfy::<Hostname>("localhost")?
            .satisfy::<DigestClientPolicy>(&ClientPolicy::require_confidentiality())?;
        Ok(())
    }
}

struct Server;
struct Authorized;
impl Validation for Authorized {
    type Value = String;
}
impl SessionCallback for Server {
    fn callback(
        &self,
        _: &SessionData,
        ctx: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        if req.is::<Password>() {
            if ctx.get_ref::<AuthId>() == Some("alice") {
                req.satisfy::<Password>(b"secret")?;
            }
            return Ok(());
        }
        req.satisfy::<Service>("ldap")?
            .satisfy::<Hostname>("localhost")?
            .satisfy::<DigestServerPolicy>(&ServerPolicy::offer_layers())?;
        Ok(())
    }
    fn validate(
        &self,
        _: &SessionData,
        ctx: &Context,
        v: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        let user = ctx.get_ref::<AuthId>().unwrap_or_default();
        let authzid = ctx.get_ref::<AuthzId>().unwrap_or_default();
        if authzid.is_empty() || authzid == user {
            v.finalize::<Authorized>(user.to_owned());
        }
        Ok(())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn send(tcp: &mut TcpStream, token: &[u8]) -> std::io::Result<()> {
    tcp.write_u32(token.len() as u32).await?;
    tcp.write_all(token).await
}

async fn recv(tcp: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let len = tcp.read_u32().await? as usize;
    if len > 4096 {
        return Err(std::io::Error::other("token too long"));
    }
    let mut token = vec![0; len];
    tcp.read_exact(&mut token).await?;
    Ok(token)
}

async fn serve(listener: TcpListener) -> Result<(), BoxError> {
    let (mut tcp, _) = listener.accept().await?;
    let config = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(Server)?;
    let mut session =
        SASLServer::<Authorized>::new(config).start_suggested(Mechname::parse(b"DIGEST-MD5")?)?;
    let mut input: Option<Vec<u8>> = None;
    loop {
        let mut out = Vec::new();
        let state = session.step(input.as_deref(), &mut out)?;
        send(&mut tcp, &out).await?;
        if state.is_finished() {
            break;
        }
        input = Some(recv(&mut tcp).await?);
    }
    let user = session.validation().ok_or("not authorized")?;
    let mut secure: SessionStream<TcpStream, Authorized> =
        SessionStream::with_session(tcp, session)?;
    let mut request = [0u8; 18];
    secure.read_exact(&mut request).await?;
    let answer = format!("{user} asked: {}", String::from_utf8_lossy(&request));
    secure.write_all(answer.as_bytes()).await?;
    secure.flush().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(serve(listener));

    let mut tcp = TcpStream::connect(addr).await?;
    let (callback, outcome) = KeepOutcome::wrap(Client);
    let config = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(callback)?;
    let mut session =
        SASLClient::new(config).start_suggested(&[Mechname::parse(b"DIGEST-MD5")?])?;
    // Server-first: challenge, response, rspauth (verified by the last step).
    loop {
        let token = recv(&mut tcp).await?;
        let mut out = Vec::new();
        if session.step(Some(&token), &mut out)?.is_finished() {
            break;
        }
        send(&mut tcp, &out).await?;
    }
    let n = outcome.negotiated().ok_or("no outcome")?;
    println!(
        "negotiated: qop={} cipher={:?} ssf={} maxbuf ours={} theirs={}",
        n.qop, n.cipher, n.ssf, n.own_maxbuf, n.peer_maxbuf
    );

    let mut secure = outcome.secure_stream(tcp, session)?;
    secure.write_all(b"(uid=alice) please").await?;
    let mut answer = Vec::new();
    secure.read_to_end(&mut answer).await?;
    println!(
        "server answered through the layer: {}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(answer, b"alice asked: (uid=alice) please");
    server.await??;
    Ok(())
}
