//! A man in the middle cuts the server's offer to `rc4-40` (RFC 2831 does not cover
//! the cipher list with the digest). A client that requires confidentiality refuses
//! before it sends anything, and says what the server offered and how to accept it.
//!
//! `cargo run --example downgrade`

use sasl_digest_md5::{
    ClientConfig, ClientContext, ClientPolicy, Credential, Downgrade, Error, ServerConfig,
    ServerContext, ServerPolicy, Step, StoredSecret, Target,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = ServerContext::new(
        ServerConfig::new("ldap", "ldap.example.com").policy(ServerPolicy::offer_layers()),
        |_: &str, _: &str| Some(StoredSecret::password("secret")),
    )?;
    let Step::Continue(challenge) = server.step(None)? else {
        unreachable!()
    };
    let genuine = String::from_utf8(challenge)?;
    println!("server offers:   {genuine}");
    // The attacker rewrites the cipher list.
    let cut = genuine.replace("cipher=\"rc4,3des\"", "cipher=\"rc4-40\"");
    assert_ne!(genuine, cut, "the default offer is rc4 and 3des");
    println!("client receives: {cut}");

    let config = ClientConfig::new(
        "alice",
        Credential::password("secret"),
        Target::new("ldap", "ldap.example.com")?,
    )
    .policy(ClientPolicy::require_confidentiality());
    let mut client = ClientContext::new(config)?;
    match client.step(Some(cut.as_bytes())) {
        Err(e @ Error::DowngradeRefused(Downgrade::NoAcceptableCipher { .. })) => {
            println!("refused, nothing sent: {e}");
            assert!(e.is_downgrade() && e.is_peer_fault());
            println!("SSP status: {:?}", e.status());
            Ok(())
        }
        other => Err(format!("expected a downgrade refusal, got {other:?}").into()),
    }
}
