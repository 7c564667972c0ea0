//! Live interoperability with the JDK's own DIGEST-MD5 (SunSASL,
//! `tools/jdk/peer.sh`, see `tools/jdk/README.md`), in both directions: our
//! `ClientContext` against the JDK server, the JDK client against our
//! `ServerContext`; every qop and all five ciphers, then security-layer messages both
//! ways, checked byte for byte.
//!
//! The JDK's `wrap`/`unwrap` take bare tokens (no 4-byte length prefix), so this file
//! uses `Sealer::seal`/`Unsealer::unseal` directly. The peer is compiled on first use
//! (`tools/jdk/build.sh`); if it cannot be built or started, the tests fail.

mod common;

use common::interop::{
    assert_no_layer, assert_one_more_than_the_largest_is_refused, exchange_sizes, our_challenge,
    our_client_finishes, our_response, role_args, send_token, token_of, Failure,
};
use common::peer::{b64, plain, unb64, Peer};
use common::{our_client_config, our_server, our_server_with, strs, HOST, REALM, SERVICE};
use sasl_digest_md5::layer::{LayerError, Sealer, Unsealer};
use sasl_digest_md5::{
    Cipher, ClientContext, Error, Negotiated, Qop, QopSet, ServerConfig, ServerContext, SspiStatus,
    Step,
};

// ---------------------------------------------------------------------------
// Authentication drivers

/// The peer's `OK ...` status line.
#[derive(Debug, Default)]
struct JdkOk {
    qop: String,
    cipher: String,
    maxbuf: u32,
    sendmaxbuffer: u32,
    rawsendsize: usize,
    authzid: Option<String>,
}

fn parse_ok(peer: &Peer, line: &str) -> JdkOk {
    let Some(rest) = line.strip_prefix("OK ") else {
        peer.fail(&format!("expected `OK ...`, got `{line}`"));
    };
    let mut ok = JdkOk::default();
    for kv in rest.split(' ') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let num = || {
            v.parse()
                .unwrap_or_else(|_| peer.fail(&format!("bad {k} in `{line}`")))
        };
        match k {
            "qop" => ok.qop = v.to_string(),
            "cipher" => ok.cipher = v.to_string(),
            "maxbuf" => ok.maxbuf = num() as u32,
            "sendmaxbuffer" => ok.sendmaxbuffer = num() as u32,
            "rawsendsize" => ok.rawsendsize = num(),
            "authzid-b64" => ok.authzid = String::from_utf8(unb64(v)).ok(),
            _ => {}
        }
    }
    ok
}

fn jdk(role: &str, extra: &[String]) -> Peer {
    let a = role_args(role, extra);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    Peer::jdk(&a)
}

/// `--qop QOP`, `extra`, then the credentials base64-encoded (non-ASCII safe).
fn jdk_args(qop: &str, extra: &[&str], user: &str, pass: &str) -> Vec<String> {
    let mut a = strs(&["--qop", qop]);
    a.extend(strs(extra));
    a.extend(strs(&[
        "--authcid-b64",
        &b64(user.as_bytes()),
        "--password-b64",
        &b64(pass.as_bytes()),
    ]));
    a
}

fn expect_line(peer: &mut Peer, want: &str) {
    let got = peer.recv();
    if got != want {
        peer.fail(&format!("expected `{want}`, got `{got}`"));
    }
}

/// Our client against the JDK server peer.
fn our_client_vs_jdk(client: &mut ClientContext, peer: &mut Peer) -> Result<JdkOk, Failure> {
    let line = peer.recv();
    let challenge = token_of(peer, &line);
    expect_line(peer, "CONTINUE");
    let response = our_response(client, peer, &challenge)?;
    let line = send_token(peer, &response)?;
    let rspauth = token_of(peer, &line);
    let status = peer.recv();
    let ok = parse_ok(peer, &status);
    our_client_finishes(client, peer, &rspauth)?;
    Ok(ok)
}

/// The JDK client peer against our server.
fn jdk_vs_our_server(server: &mut ServerContext, peer: &mut Peer) -> Result<JdkOk, Failure> {
    let challenge = our_challenge(server, peer)?;
    let line = send_token(peer, &challenge)?;
    let response = token_of(peer, &line);
    expect_line(peer, "CONTINUE");
    let rspauth = match server.step(Some(&response)).map_err(Failure::Ours)? {
        Step::Complete(Some(r)) => r,
        other => peer.fail(&format!("our server did not complete: {other:?}")),
    };
    let line = peer.cmd(&format!("TOKEN {}", b64(&rspauth)));
    if line != "NONE" {
        return Err(Failure::Peer(line));
    }
    let status = peer.recv();
    Ok(parse_ok(peer, &status))
}

// ---------------------------------------------------------------------------
// Security layer

fn unwrap_line(peer: &Peer, line: &str) -> Vec<u8> {
    if line.starts_with("ERR") {
        peer.fail(&format!("the JDK refused our message: {line}"));
    }
    unb64(line)
}

/// Messages both ways: 1, 7, 8, 9, 1000 bytes and the largest each side may send,
/// an empty message from us, and finally tampering in both directions.
fn exchange(peer: &mut Peer, tx: &mut Sealer, rx: &mut Unsealer, neg: &Negotiated, ok: &JdkOk) {
    assert_eq!(ok.qop, neg.qop.as_str());
    assert_eq!(ok.cipher, neg.cipher.map_or("-", |c| c.as_str()));
    assert_eq!(ok.maxbuf, neg.peer_maxbuf, "the JDK's receive maxbuf");
    // what the JDK may send is bounded by what we advertised
    assert_eq!(
        ok.sendmaxbuffer, neg.own_maxbuf,
        "JDK sendmaxbuffer = our maxbuf"
    );
    let line = peer.cmd("PROP javax.security.sasl.qop");
    assert_eq!(line, neg.qop.as_str());
    let our_max = tx.max_plaintext_len();
    let peer_max = ok.rawsendsize;
    let mut k = 0;
    for (ours, theirs) in exchange_sizes(our_max, peer_max) {
        // us -> JDK
        k += 1;
        let p = plain(ours, k);
        let mut wire = Vec::new();
        tx.seal(&p, &mut wire).expect("seal");
        assert!(wire.len() <= neg.peer_maxbuf as usize);
        let line = peer.cmd(&format!("UNWRAP {}", b64(&wire)));
        let got = unwrap_line(peer, &line);
        assert!(
            got == p,
            "JDK unwrapped {ours} bytes wrongly ({} back)",
            got.len()
        );
        // JDK -> us
        k += 1;
        let p = plain(theirs, k);
        let line = peer.cmd(&format!("WRAP {}", b64(&p)));
        let wire = unwrap_line(peer, &line);
        assert!(
            wire.len() <= neg.own_maxbuf as usize,
            "JDK token of {} bytes",
            wire.len()
        );
        if theirs == peer_max {
            // the JDK reserves 16 (auth-int) or 26 (auth-conf) bytes
            let slack = match neg.cipher {
                None => 0,
                Some(c) if c.is_block() => 9,
                Some(_) => 10,
            };
            assert!(
                wire.len() + slack >= neg.own_maxbuf as usize,
                "the JDK's largest token: {} bytes, our maxbuf {}",
                wire.len(),
                neg.own_maxbuf
            );
        }
        let mut got = Vec::new();
        rx.unseal(&wire, &mut got)
            .unwrap_or_else(|e| peer.fail(&format!("we cannot unseal a JDK token: {e:?}")));
        assert!(got == p, "we unsealed {theirs} bytes from the JDK wrongly");
    }
    // too large for the JDK's maxbuf: we refuse, nothing consumed
    assert_one_more_than_the_largest_is_refused(tx, false);
    // An empty message from us is a real message with a sequence number: the JDK
    // unwraps it to nothing (not "discarded") and stays in step.
    let mut wire = Vec::new();
    tx.seal(b"", &mut wire).expect("seal");
    let line = peer.cmd(&format!("UNWRAP {}", b64(&wire)));
    assert_eq!(line, "", "empty message");
    // The JDK wraps an empty message into an empty token (no seq consumed)
    let line = peer.cmd("WRAP ");
    assert_eq!(line, "", "JDK empty wrap");
    // a run of 20 small messages each way (keystream / CBC chaining continuity)
    for i in 0..20 {
        let p = plain(i * 3 + 1, 300 + i);
        let mut wire = Vec::new();
        tx.seal(&p, &mut wire).expect("seal");
        let line = peer.cmd(&format!("UNWRAP {}", b64(&wire)));
        assert!(unwrap_line(peer, &line) == p, "run message {i} to the JDK");
        let line = peer.cmd(&format!("WRAP {}", b64(&p)));
        let mut got = Vec::new();
        rx.unseal(&unwrap_line(peer, &line), &mut got)
            .unwrap_or_else(|e| peer.fail(&format!("run message {i} from the JDK: {e:?}")));
        assert!(got == p, "run message {i} from the JDK");
    }
    // tampering: one flipped bit in the body
    let line = peer.cmd(&format!("WRAP {}", b64(b"tamper me")));
    let mut wire = unwrap_line(peer, &line);
    wire[2] ^= 0x01;
    assert_eq!(
        rx.unseal(&wire, &mut Vec::new()),
        Err(LayerError::IntegrityCheckFailed),
        "tampered JDK token"
    );
    let mut wire = Vec::new();
    tx.seal(b"tamper me", &mut wire).expect("seal");
    wire[2] ^= 0x01;
    let line = peer.cmd(&format!("UNWRAP {}", b64(&wire)));
    assert!(
        line.starts_with("ERR discarded"),
        "the JDK should silently discard a tampered message: {line}"
    );
}

/// qop=auth: no layer on either side.
fn no_layer(peer: &mut Peer, layer: Result<(Sealer, Unsealer), Error>) {
    assert_no_layer(layer);
    let line = peer.cmd(&format!("WRAP {}", b64(b"x")));
    assert!(line.starts_with("ERR IllegalStateException"), "{line}");
}

fn quit(mut peer: Peer) {
    let line = peer.cmd("QUIT");
    assert_eq!(line, "BYE");
    assert!(peer.exit_success(), "JDK peer exit status");
}

/// The layer both ways (`exchange`), or its absence under qop=auth, then `QUIT`.
fn layer_then_quit(
    mut peer: Peer,
    neg: &Negotiated,
    ok: &JdkOk,
    layer: Result<(Sealer, Unsealer), Error>,
) {
    if neg.qop == Qop::Auth {
        no_layer(&mut peer, layer);
    } else {
        let (mut tx, mut rx) = layer.expect("layer");
        exchange(&mut peer, &mut tx, &mut rx, neg, ok);
    }
    quit(peer);
}

/// Our client authenticates with the JDK server (or the test fails): the peer's
/// status line and what our client negotiated.
fn client_authenticates(client: &mut ClientContext, peer: &mut Peer) -> (JdkOk, Negotiated) {
    let ok = our_client_vs_jdk(client, peer).unwrap_or_else(|f| peer.fail(&format!("{f:?}")));
    (ok, client.negotiated().expect("negotiated").clone())
}

/// The JDK client authenticates with our server (or the test fails): the peer's
/// status line and what our server negotiated.
fn server_authenticates(server: &mut ServerContext, peer: &mut Peer) -> (JdkOk, Negotiated) {
    let ok = jdk_vs_our_server(server, peer).unwrap_or_else(|f| peer.fail(&format!("{f:?}")));
    (ok, server.negotiated().expect("negotiated").clone())
}

// ---------------------------------------------------------------------------
// Our client -> JDK server

fn client_case(qop: Qop, cipher: Option<Cipher>, server_args: &[&str], maxbuf: Option<u32>) {
    let mut a = strs(&["--qop", qop.as_str()]);
    a.extend(strs(server_args));
    let mut peer = jdk("server", &a);
    let mut cfg = our_client_config("alice", "secret", qop, cipher);
    if let Some(m) = maxbuf {
        cfg = cfg.maxbuf(m);
    }
    let mut client = ClientContext::new(cfg).unwrap();
    let (ok, neg) = client_authenticates(&mut client, &mut peer);
    assert_eq!((neg.qop, neg.cipher), (qop, cipher));
    assert_eq!(
        neg.realm.as_deref(),
        Some(HOST),
        "the JDK offers its host name"
    );
    assert!(neg.mutual);
    layer_then_quit(peer, &neg, &ok, client.security_layer());
}

#[test]
fn client_auth() {
    client_case(Qop::Auth, None, &[], None);
}

#[test]
fn client_auth_int() {
    client_case(Qop::AuthInt, None, &[], None);
}

/// The JDK server offers all five ciphers; our client takes each in turn.
#[test]
fn client_auth_conf_each_cipher() {
    for c in Cipher::ALL {
        client_case(Qop::AuthConf, Some(c), &[], None);
    }
}

/// Small buffers both ways (the JDK sends `maxbuf="1024"`, quoted).
#[test]
fn client_small_maxbuf() {
    for (qop, cipher) in [
        (Qop::AuthInt, None),
        (Qop::AuthConf, Some(Cipher::TripleDes)),
        (Qop::AuthConf, Some(Cipher::Rc4_56)),
    ] {
        client_case(qop, cipher, &["--maxbuf", "1024"], Some(3000));
    }
}

/// The JDK's qop list with spaces, all qops and ciphers offered: our client takes
/// auth-conf with rc4 (its first preference).
#[test]
fn client_default_choice() {
    let mut peer = jdk("server", &strs(&["--qop", "auth-conf, auth-int, auth"]));
    let cfg = our_client_config("alice", "secret", Qop::AuthConf, None);
    let mut client = ClientContext::new(cfg).unwrap();
    let (ok, neg) = client_authenticates(&mut client, &mut peer);
    assert_eq!((neg.qop, neg.cipher), (Qop::AuthConf, Some(Cipher::Rc4)));
    assert_eq!(ok.cipher, "rc4");
    layer_then_quit(peer, &neg, &ok, client.security_layer());
}

/// Non-ASCII credentials and authzids; the JDK reports the authzid it authorized.
#[test]
fn client_non_ascii_and_authzid() {
    for (user, pass, authzid, qop) in [
        ("用户", "пароль", Some("管理者"), Qop::AuthConf),
        ("Jürgen", "pässwörd", Some("Zoë"), Qop::AuthInt),
        ("alice", "secret", Some("alice"), Qop::Auth),
    ] {
        let a = jdk_args(qop.as_str(), &[], user, pass);
        let mut peer = jdk("server", &a);
        let mut cfg = our_client_config(user, pass, qop, None);
        if let Some(z) = authzid {
            cfg = cfg.authzid(z);
        }
        let mut client = ClientContext::new(cfg).unwrap();
        let (ok, neg) = client_authenticates(&mut client, &mut peer);
        assert_eq!(ok.authzid.as_deref(), Some(authzid.unwrap_or(user)));
        assert_eq!(neg.username, user);
        layer_then_quit(peer, &neg, &ok, client.security_layer());
    }
}

/// A JDK server that does not offer `charset=utf-8`: Latin-1 credentials go on the
/// wire and into the hash as ISO-8859-1.
#[test]
fn client_latin1_without_charset() {
    let a = jdk_args("auth-int", &["--utf8", "false"], "Jürgen", "pässwörd");
    let mut peer = jdk("server", &a);
    let cfg = our_client_config("Jürgen", "pässwörd", Qop::AuthInt, None);
    let mut client = ClientContext::new(cfg).unwrap();
    let (ok, neg) = client_authenticates(&mut client, &mut peer);
    assert_eq!(ok.authzid.as_deref(), Some("Jürgen"));
    layer_then_quit(peer, &neg, &ok, client.security_layer());
}

/// Wrong password, unknown user: the JDK server refuses, our client does not complete.
#[test]
fn client_wrong_password() {
    for (user, pass) in [("alice", "wrong"), ("mallory", "secret")] {
        let mut peer = jdk("server", &strs(&["--qop", "auth-int"]));
        let cfg = our_client_config(user, pass, Qop::AuthInt, None);
        let mut client = ClientContext::new(cfg).unwrap();
        match our_client_vs_jdk(&mut client, &mut peer) {
            Err(Failure::Peer(line)) => assert!(line.starts_with("FAIL SaslException"), "{line}"),
            other => peer.fail(&format!("wrong credentials accepted? {other:?}")),
        }
        assert!(!client.is_established());
        assert!(!peer.exit_success());
    }
}

/// The JDK server offers several realms; our client's chooser picks the second.
/// A realm it did not offer is refused by the JDK ("Nonexistent realm").
#[test]
fn client_several_realms() {
    let realms = [
        "--realm",
        REALM,
        "--realm",
        "other.org",
        "--realm",
        "third.net",
        "--qop",
        "auth-conf",
    ];
    let mut peer = jdk("server", &strs(&realms));
    let cfg = our_client_config("alice", "secret", Qop::AuthConf, Some(Cipher::Des)).realm_chooser(
        |offered: &[String]| {
            assert_eq!(offered, [REALM, "other.org", "third.net"]);
            Some(offered[1].clone())
        },
    );
    let mut client = ClientContext::new(cfg).unwrap();
    let (ok, neg) = client_authenticates(&mut client, &mut peer);
    assert_eq!(neg.realm.as_deref(), Some("other.org"));
    layer_then_quit(peer, &neg, &ok, client.security_layer());

    let mut peer = jdk("server", &strs(&realms));
    let cfg = our_client_config("alice", "secret", Qop::AuthConf, None).realm("evil.org");
    let mut client = ClientContext::new(cfg).unwrap();
    match our_client_vs_jdk(&mut client, &mut peer) {
        Err(Failure::Peer(line)) => assert!(line.contains("Nonexistent realm"), "{line}"),
        other => peer.fail(&format!("unoffered realm accepted? {other:?}")),
    }
    assert!(!client.is_established());
}

// ---------------------------------------------------------------------------
// JDK client -> our server

fn server_case(qop: Qop, cipher: Option<Cipher>, client_args: &[&str], maxbuf: u32) -> JdkOk {
    let mut a = strs(&["--qop", qop.as_str()]);
    if let Some(c) = cipher {
        a.extend(strs(&["--cipher", c.as_str()]));
    }
    a.extend(strs(client_args));
    let mut peer = jdk("client", &a);
    let mut server = our_server(QopSet::ALL, maxbuf, &[REALM], &[("alice", REALM, "secret")]);
    let (ok, neg) = server_authenticates(&mut server, &mut peer);
    assert_eq!(neg.qop, qop);
    if cipher.is_some() {
        assert_eq!(neg.cipher, cipher);
    }
    assert_eq!(neg.username, "alice");
    assert_eq!(neg.realm.as_deref(), Some(REALM));
    assert_eq!(neg.own_maxbuf, maxbuf);
    layer_then_quit(peer, &neg, &ok, server.security_layer());
    ok
}

#[test]
fn server_auth() {
    server_case(Qop::Auth, None, &[], 65536);
}

#[test]
fn server_auth_int() {
    server_case(Qop::AuthInt, None, &[], 65536);
}

/// The JDK client, forced to each cipher in turn (the quoted `cipher="3des"` etc.).
#[test]
fn server_auth_conf_each_cipher() {
    for c in Cipher::ALL {
        server_case(Qop::AuthConf, Some(c), &[], 65536);
    }
}

/// The JDK client's own choice from our full offer is 3des.
#[test]
fn server_jdk_default_choice_is_3des() {
    let ok = server_case(Qop::AuthConf, None, &[], 65536);
    assert_eq!(ok.cipher, "3des");
}

#[test]
fn server_small_maxbuf() {
    for (qop, cipher) in [
        (Qop::AuthInt, None),
        (Qop::AuthConf, Some(Cipher::Des)),
        (Qop::AuthConf, Some(Cipher::Rc4_40)),
    ] {
        server_case(qop, cipher, &["--maxbuf", "1024"], 2500);
    }
}

#[test]
fn server_non_ascii_and_authzid() {
    for (user, pass, authzid, qop) in [
        ("用户", "пароль", Some("管理者"), Qop::AuthConf),
        ("Jürgen", "pässwörd", Some("Zoë"), Qop::AuthInt),
        // the JDK sends an authzid equal to the authcid
        ("alice", "secret", Some("alice"), Qop::Auth),
        ("bob", "secret", None, Qop::Auth),
    ] {
        let mut a = jdk_args(qop.as_str(), &[], user, pass);
        if let Some(z) = authzid {
            a.extend(strs(&["--authzid-b64", &b64(z.as_bytes())]));
        }
        let mut peer = jdk("client", &a);
        let mut server = our_server(QopSet::ALL, 65536, &[REALM], &[(user, REALM, pass)]);
        let (ok, neg) = server_authenticates(&mut server, &mut peer);
        assert_eq!(neg.username, user);
        assert_eq!(neg.authzid.as_deref(), authzid);
        assert_eq!(neg.qop, qop);
        layer_then_quit(peer, &neg, &ok, server.security_layer());
    }
}

#[test]
fn server_wrong_password() {
    for (user, pass) in [("alice", "wrong"), ("mallory", "secret")] {
        let mut peer = jdk("client", &strs(&["--authcid", user, "--password", pass]));
        let mut server = our_server(QopSet::ALL, 65536, &[REALM], &[("alice", REALM, "secret")]);
        match jdk_vs_our_server(&mut server, &mut peer) {
            Err(Failure::Ours(e)) => {
                assert!(matches!(e, Error::LogonDenied), "{e:?}");
                assert_eq!(e.status(), SspiStatus::SEC_E_LOGON_DENIED);
            }
            other => peer.fail(&format!("wrong credentials accepted? {other:?}")),
        }
        assert!(!server.is_established());
        // the JDK client, given no rspauth, fails on a bogus final token
        let line = peer.cmd(&format!(
            "TOKEN {}",
            b64(b"rspauth=00000000000000000000000000000000")
        ));
        assert!(line.starts_with("FAIL"), "{line}");
        assert!(!peer.exit_success());
    }
}

/// Our server offers three realms; the JDK client picks the second.
#[test]
fn server_several_realms() {
    let mut peer = jdk(
        "client",
        &strs(&[
            "--realm",
            "other.org",
            "--qop",
            "auth-conf",
            "--cipher",
            "rc4",
        ]),
    );
    let mut server = our_server(
        QopSet::ALL,
        65536,
        &[REALM, "other.org", "third.net"],
        &[("alice", "other.org", "secret")],
    );
    let (ok, neg) = server_authenticates(&mut server, &mut peer);
    assert_eq!(neg.realm.as_deref(), Some("other.org"));
    layer_then_quit(peer, &neg, &ok, server.security_layer());
}

/// Our server offers no realm: the JDK client sends none, our store is asked for "".
#[test]
fn server_no_realm_offered() {
    let mut peer = jdk("client", &strs(&["--qop", "auth-int"]));
    let config = ServerConfig::new(SERVICE, HOST).qops(QopSet::only(Qop::AuthInt));
    let mut server = our_server_with(config, &[("alice", "", "secret")]);
    let (ok, neg) = server_authenticates(&mut server, &mut peer);
    assert_eq!(neg.realm, None);
    layer_then_quit(peer, &neg, &ok, server.security_layer());
}

/// Our server without `charset=utf-8`: the JDK client sends and hashes Latin-1.
#[test]
fn server_latin1_without_charset() {
    let a = jdk_args("auth-conf", &["--cipher", "des"], "Jürgen", "pässwörd");
    let mut peer = jdk("client", &a);
    let config = ServerConfig::new(SERVICE, HOST)
        .realms([REALM])
        .qops(QopSet::ALL)
        .ciphers(sasl_digest_md5::CipherSet::ALL)
        .utf8(false);
    let mut server = our_server_with(config, &[("Jürgen", REALM, "pässwörd")]);
    let (ok, neg) = server_authenticates(&mut server, &mut peer);
    assert_eq!(neg.username, "Jürgen");
    layer_then_quit(peer, &neg, &ok, server.security_layer());
}
