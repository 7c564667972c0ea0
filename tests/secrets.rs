//! `Debug` output never shows a password, a password-equivalent secret, a session key,
//! a derived layer key, or the rspauth the client expects.

use sasl_digest_md5::digest::{self, hex16, DigestInput, Secret};
use sasl_digest_md5::layer::{self, FrameDecoder};
use sasl_digest_md5::wire::Response;
use sasl_digest_md5::{
    Cipher, CipherSet, ClientConfig, ClientContext, Credential, QopSet, Requirements, ServerConfig,
    ServerContext, Side, Step, StoredSecret, Target,
};

const PASSWORD: &str = "hunter2-Пароль-secret";

/// Every way 16 secret bytes could show up in a `Debug` string: lowercase and
/// uppercase hex, and the `[1, 2, ...]` / `[0x01, ...]` array forms.
fn forms(bytes: &[u8]) -> Vec<String> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        hex.clone(),
        hex.to_uppercase(),
        format!("{bytes:?}"),
        format!("{bytes:x?}"),
        // A run of the decimal form without brackets (e.g. inside a struct).
        bytes[..8]
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    ]
}

fn assert_hidden(what: &str, debug: &str, secrets: &[Vec<String>]) {
    assert!(
        !debug.contains(PASSWORD),
        "{what} shows the password: {debug}"
    );
    for forms in secrets {
        for f in forms {
            assert!(!debug.contains(f.as_str()), "{what} shows {f}: {debug}");
        }
    }
    // Also the alternate (pretty) form.
    assert!(!debug.is_empty());
}

fn config() -> ClientConfig {
    ClientConfig::new(
        "alice",
        Credential::password(PASSWORD),
        Target::new("ldap", "ldap.example.com").unwrap(),
    )
    .requirements(Requirements::CONFIDENTIALITY)
    .ciphers(&[Cipher::TripleDes])
}

#[test]
fn debug_never_shows_secrets() {
    let secret = digest::secret("alice", "example.com", PASSWORD);
    let secret_forms = forms(secret.as_bytes());

    // Configuration and credentials.
    for (what, s) in [
        (
            "Credential::Password",
            format!("{:?}", Credential::password(PASSWORD)),
        ),
        (
            "Credential::Secret",
            format!("{:?}", Credential::Secret(secret.clone())),
        ),
        (
            "StoredSecret::Password",
            format!("{:?}", StoredSecret::password(PASSWORD)),
        ),
        (
            "StoredSecret::Secret",
            format!("{:?}", StoredSecret::Secret(secret.clone())),
        ),
        ("Secret", format!("{secret:?}")),
        ("Secret (pretty)", format!("{secret:#?}")),
        ("ClientConfig", format!("{:?}", config())),
        ("ClientConfig (pretty)", format!("{:#?}", config())),
    ] {
        assert_hidden(what, &s, std::slice::from_ref(&secret_forms));
    }
    let from_hex =
        Secret::from_hex(std::str::from_utf8(&hex16(secret.as_bytes())).unwrap()).unwrap();
    assert_hidden(
        "Secret::from_hex",
        &format!("{from_hex:?}"),
        std::slice::from_ref(&secret_forms),
    );

    // A full exchange, with the contexts printed at every stage.
    let mut client = ClientContext::new(config()).unwrap();
    let mut server = ServerContext::new(
        ServerConfig::new("ldap", "ldap.example.com")
            .realms(["example.com"])
            .qops(QopSet::ALL)
            .ciphers(CipherSet::ALL),
        |_: &str, _: &str| Some(StoredSecret::password(PASSWORD)),
    )
    .unwrap();
    let Step::Continue(ch) = server.step(None).unwrap() else {
        panic!()
    };
    let Step::Continue(resp) = client.step(Some(&ch)).unwrap() else {
        panic!()
    };
    let r = Response::parse(&resp).unwrap();
    let input = DigestInput {
        nonce: &r.nonce,
        cnonce: &r.cnonce,
        nc: r.nc,
        qop: r.qop,
        digest_uri: r.digest_uri.as_bytes(),
    };
    let key = digest::session_key(&secret, &input, None);
    let key_forms = forms(key.as_bytes());
    let rspauth = digest::response_value(&key, &input, true);
    let rspauth_forms = vec![
        String::from_utf8(rspauth.to_vec()).unwrap(),
        format!("{rspauth:?}"),
    ];
    let all = [secret_forms, key_forms, rspauth_forms];

    assert_hidden("SessionKey", &format!("{key:?} {key:#?}"), &all);
    assert_hidden(
        "ClientContext awaiting rspauth",
        &format!("{client:?} {client:#?}"),
        &all,
    );
    let Step::Complete(Some(rsp)) = server.step(Some(&resp)).unwrap() else {
        panic!()
    };
    assert_hidden(
        "ServerContext established",
        &format!("{server:?} {server:#?}"),
        &all,
    );
    client.step(Some(&rsp)).unwrap();
    assert_hidden(
        "ClientContext established",
        &format!("{client:?} {client:#?}"),
        &all,
    );
    let ticket = client.reauth_ticket().unwrap();
    assert_hidden("ReauthTicket", &format!("{ticket:?}"), &all);

    // Layer halves: their derived keys are MD5(H(A1) || constant); check H(A1) and
    // the derived keys' leading bytes never appear.
    let (tx, rx) = client.security_layer().unwrap();
    let (stx, srx) = server.security_layer().unwrap();
    for (what, s) in [
        ("Sealer", format!("{tx:?} {tx:#?}")),
        ("Unsealer", format!("{rx:?} {rx:#?}")),
        ("server Sealer", format!("{stx:?}")),
        ("server Unsealer", format!("{srx:?}")),
        (
            "FrameDecoder",
            format!("{:?}", FrameDecoder::new(4096).unwrap()),
        ),
    ] {
        assert_hidden(what, &s, &all);
        assert!(
            s.contains("redacted") || what == "FrameDecoder",
            "{what}: {s}"
        );
    }

    // Sanity: the checker does see a secret when it is there.
    let leak = format!("{:?}", secret.as_bytes());
    assert!(std::panic::catch_unwind(|| assert_hidden("leak", &leak, &all)).is_err());
}

#[test]
fn layer_debug_hides_keys_for_every_cipher() {
    let ha1 = *b"0123456789abcdef";
    for cipher in Cipher::ALL {
        let (tx, rx) = layer::establish(
            &ha1,
            sasl_digest_md5::Qop::AuthConf,
            Some(cipher),
            Side::Client,
            4096,
            4096,
        )
        .unwrap();
        let s = format!("{tx:?}{rx:?}{tx:#?}{rx:#?}");
        assert_hidden("layer", &s, &[forms(&ha1), vec!["0123456789abcdef".into()]]);
    }
}
