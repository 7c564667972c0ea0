//! A wrong password through rsasl: the server's session fails with a typed error
//! that says "bad credentials", the same for an unknown user (no user enumeration),
//! and neither session is left usable.
//!
//! `cargo run --example wrong_password`

use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::prelude::*;
use rsasl::property::{AuthId, Hostname, Password, Service};
use rsasl::validate::{NoValidation, Validate, ValidationError};
use sasl_digest_md5::mechanism::SessionErrorExt;
use sasl_digest_md5::{Error, DIGEST_MD5};

static MECHS: &[Mechanism] = &[DIGEST_MD5];

struct Client(&'static str, &'static str);
impl SessionCallback for Client {
    fn callback(
        &self,
        _: &SessionData,
        _: &Context,
        req: &mut Request,
    ) -> Result<(), SessionError> {
        req.satisfy::<AuthId>(self.0)?
            .satisfy::<Password>(self.1.as_bytes())?
            .satisfy::<Service>("xmpp")?
            .satisfy::<Hostname>("chat.example.com")?;
        Ok(())
    }
}

struct Server;
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
        req.satisfy::<Service>("xmpp")?
            .satisfy::<Hostname>("chat.example.com")?;
        Ok(())
    }
    fn validate(
        &self,
        _: &SessionData,
        _: &Context,
        _: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// Runs one exchange; returns the server's error.
fn attempt(
    user: &'static str,
    password: &'static str,
) -> Result<SessionError, Box<dyn std::error::Error>> {
    let name = Mechname::parse(b"DIGEST-MD5")?;
    let client_config = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(Client(user, password))?;
    let server_config = SASLConfig::builder()
        .with_registry(Registry::with_mechanisms(MECHS))
        .with_callback(Server)?;
    let mut client = SASLClient::new(client_config).start_suggested(&[name])?;
    let mut server = SASLServer::<NoValidation>::new(server_config).start_suggested(name)?;
    let (mut challenge, mut response) = (Vec::new(), Vec::new());
    server.step(None, &mut challenge)?;
    client.step(Some(&challenge), &mut response)?;
    let e = server
        .step(Some(&response), &mut Vec::new())
        .err()
        .ok_or("a wrong password was accepted")?;
    // The failed session stays failed, even for a genuine token.
    assert!(server.step(Some(&response), &mut Vec::new()).is_err());
    Ok(e)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for (user, password) in [("alice", "wrong"), ("mallory", "secret")] {
        let e = attempt(user, password)?;
        println!(
            "{user}/{password}: {e} -> bad credentials: {}",
            e.is_bad_credentials()
        );
        assert!(e.is_bad_credentials());
        assert!(matches!(e.digest_error(), Some(Error::LogonDenied)));
    }
    println!("both refused alike: the client cannot tell an unknown user from a wrong password");
    Ok(())
}
