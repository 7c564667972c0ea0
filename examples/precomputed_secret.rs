//! Sans-IO client and server that never hold a password: both sides keep the
//! precomputed secret H({username:realm:password}) (what `saslpasswd2` stores as
//! `cmusaslsecretDIGEST-MD5`, or Active Directory's reversible digest), then exchange
//! data over auth-conf.
//!
//! `cargo run --example precomputed_secret`

use sasl_digest_md5::digest;
use sasl_digest_md5::{
    ClientConfig, ClientContext, ClientPolicy, Credential, ServerConfig, ServerContext,
    ServerPolicy, Step, StoredSecret, Target,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Computed once, when the password is set; the password itself is then forgotten.
    let secret = digest::secret("alice", "example.com", "secret");
    println!("stored secret: {secret:?} (redacted in Debug)");

    let client_secret = secret.clone();
    let config = ClientConfig::new(
        "alice",
        Credential::Secret(client_secret),
        Target::new("imap", "mail.example.com")?,
    )
    .realm("example.com") // a secret is bound to its realm
    .policy(ClientPolicy::require_confidentiality());
    let mut client = ClientContext::new(config)?;

    let server_config = ServerConfig::new("imap", "mail.example.com")
        .realms(["example.com"])
        .policy(ServerPolicy {
            realms: vec!["example.com".into()],
            ..ServerPolicy::offer_layers()
        });
    let store = move |user: &str, realm: &str| {
        (user == "alice" && realm == "example.com").then(|| StoredSecret::Secret(secret.clone()))
    };
    let mut server = ServerContext::new(server_config, store)?;

    let Step::Continue(challenge) = server.step(None)? else {
        unreachable!()
    };
    let Step::Continue(response) = client.step(Some(&challenge))? else {
        unreachable!()
    };
    let Step::Complete(Some(rspauth)) = server.step(Some(&response))? else {
        return Err("the server did not complete".into());
    };
    assert_eq!(client.step(Some(&rspauth))?, Step::Complete(None));
    let n = client.negotiated().ok_or("not established")?;
    println!(
        "negotiated: qop={} cipher={:?} ssf={}",
        n.qop, n.cipher, n.ssf
    );

    let (mut c_tx, _c_rx) = client.security_layer()?;
    let (_s_tx, mut s_rx) = server.security_layer()?;
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    c_tx.seal(b"a1 SELECT INBOX", &mut wire)?;
    s_rx.unseal(&wire, &mut plain)?;
    assert_eq!(plain, b"a1 SELECT INBOX");
    println!(
        "sealed {} bytes, unsealed: {}",
        wire.len(),
        String::from_utf8_lossy(&plain)
    );
    Ok(())
}
