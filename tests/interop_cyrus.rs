//! Live interoperability with the real Cyrus SASL 2.1.28 DIGEST-MD5 plugin
//! (`tools/cyrus/build/peer`, see `tools/cyrus/README.md`), in both directions:
//! our `ClientContext` against the Cyrus server, the Cyrus client against our
//! `ServerContext`; every qop, every cipher Cyrus delivers on Debian 12, then
//! security-layer messages both ways, checked byte for byte.
//!
//! The peer is built on first use (`tools/cyrus/build.sh`); if it cannot be built or
//! started, the tests fail (they never skip).
//!
//! `cyrus-plugin/tests/interop_cyrus_ours.rs` runs this whole file again with our
//! `libdigestmd5.so` loaded into the peer (`common::peer::OUR_PLUGIN`): then 3des
//! works without the parity shim, and every peer is checked to have loaded it.

mod common;

use common::interop::{
    assert_no_layer, assert_one_more_than_the_largest_is_refused, exchange_sizes, our_challenge,
    our_client_finishes, our_response, role_args, send_token, token_of, Failure,
};
use common::peer::{b64, plain, unb64, Peer};
use common::{our_client_config, our_server, our_server_with, strs, HOST, REALM, SERVICE};
use sasl_digest_md5::layer::{FrameDecoder, LayerError, Sealer, Unsealer};
use sasl_digest_md5::{
    Cipher, ClientConfig, ClientContext, Credential, Error, Negotiated, Qop, QopSet, ServerConfig,
    ServerContext, SspiStatus, Step, Target,
};

/// Every Cyrus cipher that works on Debian 12 without the shim.
const CIPHERS: [Cipher; 4] = [Cipher::Rc4_40, Cipher::Rc4_56, Cipher::Rc4, Cipher::Des];

/// The ssf Cyrus reports for a cipher (its `des` is 55, not 56).
fn cyrus_ssf(qop: Qop, cipher: Option<Cipher>) -> u32 {
    match (qop, cipher) {
        (Qop::Auth, _) => 0,
        (Qop::AuthInt, _) => 1,
        (Qop::AuthConf, Some(Cipher::Des)) => 55,
        (Qop::AuthConf, Some(c)) => c.strength(),
        (Qop::AuthConf, None) => unreachable!(),
    }
}

fn cipher_arg(qop: Qop, cipher: Option<Cipher>) -> Vec<String> {
    match cipher {
        Some(c) => vec!["--cipher".into(), c.as_str().into()],
        None => vec!["--qop".into(), qop.as_str().into()],
    }
}

// ---------------------------------------------------------------------------
// Authentication drivers

fn server_peer(extra: &[String], shim: bool) -> Peer {
    cyrus(&role_args("server", extra), shim)
}

fn client_peer(extra: &[String], shim: bool) -> Peer {
    cyrus(&role_args("client", extra), shim)
}

fn cyrus(args: &[String], shim: bool) -> Peer {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Peer::cyrus(&args, shim)
}

/// Our client against a Cyrus server peer. With `--success-data` among the server's
/// arguments the rspauth comes as success data, otherwise as a challenge answered by
/// an empty response.
fn our_client_vs_cyrus(client: &mut ClientContext, peer: &mut Peer) -> Result<(), Failure> {
    let line = peer.recv();
    let challenge = token_of(peer, &line);
    let response = our_response(client, peer, &challenge)?;
    let line = send_token(peer, &response)?;
    let (rspauth, success_data) = if let Some(d) = line.strip_prefix("SUCCESS ") {
        (unb64(d), true)
    } else {
        (token_of(peer, &line), false)
    };
    our_client_finishes(client, peer, &rspauth)?;
    if !success_data {
        let line = peer.cmd("EMPTY");
        if line != "SUCCESS" {
            peer.fail(&format!(
                "expected SUCCESS after the empty response, got `{line}`"
            ));
        }
    }
    Ok(())
}

/// The Cyrus client peer against our server.
fn cyrus_vs_our_server(server: &mut ServerContext, peer: &mut Peer) -> Result<(), Failure> {
    let line = peer.recv();
    if line != "NONE" {
        peer.fail(&format!(
            "the Cyrus client should have no initial response: `{line}`"
        ));
    }
    let challenge = our_challenge(server, peer)?;
    let line = send_token(peer, &challenge)?;
    let response = token_of(peer, &line);
    let rspauth = match server.step(Some(&response)) {
        Ok(Step::Complete(Some(r))) => r,
        Ok(other) => peer.fail(&format!("our server did not complete: {other:?}")),
        Err(e) => {
            // tell the peer, which must then fail too
            let line = peer.cmd("ABORT");
            assert!(line.starts_with("FAIL"), "ABORT answered with `{line}`");
            return Err(Failure::Ours(e));
        }
    };
    let line = peer.cmd(&format!("TOKEN {}", b64(&rspauth)));
    if line != "SUCCESS" {
        return Err(Failure::Peer(line));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Security layer

struct Info {
    ssf: u32,
    maxoutbuf: usize,
    username: String,
}

fn info(peer: &mut Peer) -> Info {
    let line = peer.cmd("INFO");
    let mut ssf = None;
    let mut maxoutbuf = None;
    let mut username = None;
    for kv in line
        .strip_prefix("OK ")
        .unwrap_or_else(|| peer.fail("bad INFO"))
        .split(' ')
    {
        match kv.split_once('=') {
            Some(("ssf", v)) => ssf = v.parse().ok(),
            Some(("maxoutbuf", v)) => maxoutbuf = v.parse().ok(),
            Some(("username", v)) => username = String::from_utf8(unb64(v)).ok(),
            _ => {}
        }
    }
    match (ssf, maxoutbuf, username) {
        (Some(ssf), Some(maxoutbuf), Some(username)) => Info {
            ssf,
            maxoutbuf,
            username,
        },
        _ => peer.fail(&format!("cannot parse `{line}`")),
    }
}

fn ok_payload(peer: &Peer, line: &str) -> Vec<u8> {
    if line == "OK" {
        Vec::new()
    } else if let Some(d) = line.strip_prefix("OK ") {
        unb64(d)
    } else {
        peer.fail(&format!("expected `OK [b64]`, got `{line:.300}`"))
    }
}

/// Splits a byte stream of frames and unseals each; returns the plaintexts.
fn unseal_stream(
    peer: &Peer,
    dec: &mut FrameDecoder,
    rx: &mut Unsealer,
    mut stream: &[u8],
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !stream.is_empty() {
        let (used, frame) = dec
            .feed(stream)
            .unwrap_or_else(|e| peer.fail(&format!("our frame decoder refused Cyrus output: {e}")));
        stream = &stream[used..];
        if let Some(frame) = frame {
            let n = rx
                .unseal_in_place(frame)
                .unwrap_or_else(|e| peer.fail(&format!("we cannot unseal a Cyrus frame: {e:?}")));
            out.push(frame[..n].to_vec());
        }
    }
    assert!(!dec.is_mid_frame(), "Cyrus output ended mid-frame");
    out
}

/// Messages both ways: sizes 1, 7, 8, 9, 1000 and the largest each side may send,
/// then Cyrus splitting a long message into frames, several of our frames in one
/// buffer, a frame fed in two pieces, and finally tampering in both directions.
///
/// `cyrus_client`: the peer is the Cyrus client, whose largest frame fills our maxbuf
/// exactly (prefix not counted); the Cyrus server keeps 4 bytes more room.
fn exchange(
    peer: &mut Peer,
    tx: &mut Sealer,
    rx: &mut Unsealer,
    neg: &Negotiated,
    cyrus_client: bool,
) {
    let inf = info(peer);
    assert_eq!(inf.ssf, cyrus_ssf(neg.qop, neg.cipher), "Cyrus ssf");
    let peer_max = inf.maxoutbuf;
    let our_max = tx.max_plaintext_len();
    assert!(peer_max > 1000 && our_max > 1000);
    let mut dec = FrameDecoder::new(neg.own_maxbuf).expect("decoder");
    let mut k = 0;
    for (ours, theirs) in exchange_sizes(our_max, peer_max) {
        // us -> Cyrus
        k += 1;
        let p = plain(ours, k);
        let mut frame = Vec::new();
        tx.seal_frame(&p, &mut frame).expect("seal");
        let wire_len = frame.len() - 4;
        assert!(wire_len <= neg.peer_maxbuf as usize);
        if ours == our_max {
            // the largest message fills the peer's maxbuf exactly (DES: up to 7
            // bytes short, the padding is 1..8)
            let slack = if neg.cipher.is_some_and(|c| c.is_block()) {
                7
            } else {
                0
            };
            assert!(
                wire_len + slack >= neg.peer_maxbuf as usize,
                "largest wire {wire_len}"
            );
        }
        let line = peer.cmd(&format!("UNSEAL {}", b64(&frame)));
        let got = ok_payload(peer, &line);
        assert!(
            got == p,
            "Cyrus unsealed {} bytes wrongly ({} bytes back)",
            ours,
            got.len()
        );
        // Cyrus -> us
        k += 1;
        let p = plain(theirs, k);
        let line = peer.cmd(&format!("SEAL {}", b64(&p)));
        let stream = ok_payload(peer, &line);
        if theirs == peer_max {
            let wire_len = u32::from_be_bytes([stream[0], stream[1], stream[2], stream[3]]);
            let limit = neg.own_maxbuf - if cyrus_client { 0 } else { 4 };
            // Cyrus reserves 16 bytes (auth-int) or 25 (auth-conf: 16 + the largest
            // DES padding + 1) below that limit; the padding is 1..8 (DES) or 0 (RC4)
            let reserve = if neg.qop == Qop::AuthInt { 16 } else { 25 };
            let (pmin, pmax) = if neg.cipher.is_some_and(|c| c.is_block()) {
                (1, 8)
            } else {
                (0, 0)
            };
            let base = limit - reserve + 16;
            assert!(
                (base + pmin..=base + pmax).contains(&wire_len) && wire_len <= neg.own_maxbuf,
                "Cyrus's largest frame: {wire_len} bytes, our maxbuf {}",
                neg.own_maxbuf
            );
        }
        let got = unseal_stream(peer, &mut dec, rx, &stream);
        assert_eq!(got.len(), 1, "one frame for {theirs} bytes");
        assert!(got[0] == p, "we unsealed {theirs} bytes from Cyrus wrongly");
    }
    // the largest message + 1: we refuse to seal it (typed, nothing consumed)...
    assert_one_more_than_the_largest_is_refused(tx, true);
    // ... Cyrus splits it (and more) into several frames.
    k += 1;
    let p = plain(2 * peer_max + 3, k);
    let line = peer.cmd(&format!("SEAL {}", b64(&p)));
    let stream = ok_payload(peer, &line);
    let got = unseal_stream(peer, &mut dec, rx, &stream);
    assert_eq!(got.len(), 3, "Cyrus splits {} bytes into 3 frames", p.len());
    assert_eq!(got[0].len(), peer_max);
    assert!(got.concat() == p, "split message");
    // three of our frames in one buffer; then one frame in two pieces
    let msgs: Vec<Vec<u8>> = (0..3).map(|i| plain(5 + i, 100 + i)).collect();
    let mut buf = Vec::new();
    for m in &msgs {
        tx.seal_frame(m, &mut buf).expect("seal");
    }
    let line = peer.cmd(&format!("UNSEAL {}", b64(&buf)));
    assert!(
        ok_payload(peer, &line) == msgs.concat(),
        "three frames in one buffer"
    );
    let p = plain(300, 200);
    let mut frame = Vec::new();
    tx.seal_frame(&p, &mut frame).expect("seal");
    let line = peer.cmd(&format!("UNSEAL {}", b64(&frame[..150])));
    assert_eq!(line, "OK", "first half of a frame gives nothing yet");
    let line = peer.cmd(&format!("UNSEAL {}", b64(&frame[150..])));
    assert!(ok_payload(peer, &line) == p, "frame in two pieces");
    // an empty message (Cyrus cannot send one, but decodes ours: nothing comes out
    // and its sequence number moves on, as the next message shows)
    let mut frame = Vec::new();
    tx.seal_frame(b"", &mut frame).expect("seal");
    tx.seal_frame(b"after empty", &mut frame).expect("seal");
    let line = peer.cmd(&format!("UNSEAL {}", b64(&frame)));
    assert_eq!(ok_payload(peer, &line), b"after empty");
    let line = peer.cmd("SEAL ");
    assert!(
        line.starts_with("ERR -7 "),
        "Cyrus cannot seal 0 bytes: {line}"
    );
    // tampering: one flipped bit in the body makes each side refuse
    let line = peer.cmd(&format!("SEAL {}", b64(b"tamper me")));
    let mut stream = ok_payload(peer, &line);
    stream[6] ^= 0x01;
    let (_, frame) = dec.feed(&stream).expect("frame");
    let frame = frame.expect("whole frame");
    assert_eq!(
        rx.unseal_in_place(frame),
        Err(LayerError::IntegrityCheckFailed),
        "tampered Cyrus frame"
    );
    let mut frame = Vec::new();
    tx.seal_frame(b"tamper me", &mut frame).expect("seal");
    frame[6] ^= 0x01;
    let line = peer.cmd(&format!("UNSEAL {}", b64(&frame)));
    assert!(
        line.starts_with("ERR "),
        "Cyrus accepted a tampered frame: {line}"
    );
}

/// qop=auth: no layer on either side; Cyrus passes data through unchanged.
fn no_layer(peer: &mut Peer, layer: Result<(Sealer, Unsealer), Error>) {
    assert_eq!(info(peer).ssf, 0);
    assert_no_layer(layer);
    let line = peer.cmd(&format!("SEAL {}", b64(b"clear")));
    assert_eq!(ok_payload(peer, &line), b"clear");
}

fn quit(mut peer: Peer) {
    peer.send("QUIT");
    assert!(peer.exit_success(), "Cyrus peer exit status");
}

/// The layer both ways (`exchange`), or its absence under qop=auth, then `QUIT`.
fn layer_then_quit(
    mut peer: Peer,
    neg: &Negotiated,
    layer: Result<(Sealer, Unsealer), Error>,
    cyrus_client: bool,
) {
    if neg.qop == Qop::Auth {
        no_layer(&mut peer, layer);
    } else {
        let (mut tx, mut rx) = layer.expect("layer");
        exchange(&mut peer, &mut tx, &mut rx, neg, cyrus_client);
    }
    quit(peer);
}

/// Our client authenticates with the Cyrus server (or the test fails): what it
/// negotiated.
fn client_authenticates(client: &mut ClientContext, peer: &mut Peer) -> Negotiated {
    our_client_vs_cyrus(client, peer).unwrap_or_else(|f| peer.fail(&format!("{f:?}")));
    client.negotiated().expect("negotiated").clone()
}

/// The Cyrus client authenticates with our server (or the test fails): what our
/// server negotiated.
fn server_authenticates(server: &mut ServerContext, peer: &mut Peer) -> Negotiated {
    cyrus_vs_our_server(server, peer).unwrap_or_else(|f| peer.fail(&format!("{f:?}")));
    server.negotiated().expect("negotiated").clone()
}

// ---------------------------------------------------------------------------
// Our client -> Cyrus server

fn client_case(qop: Qop, cipher: Option<Cipher>, success_data: bool, shim: bool) {
    let mut args = cipher_arg(qop, cipher);
    args.extend([
        "--user".into(),
        "alice:secret".into(),
        "--realm".into(),
        REALM.into(),
    ]);
    if success_data {
        args.push("--success-data".into());
    }
    let mut peer = server_peer(&args, shim);
    let mut client = ClientContext::new(our_client_config("alice", "secret", qop, cipher)).unwrap();
    let neg = client_authenticates(&mut client, &mut peer);
    assert_eq!((neg.qop, neg.cipher), (qop, cipher));
    assert_eq!(neg.realm.as_deref(), Some(REALM));
    assert!(neg.mutual);
    assert_eq!(neg.peer_maxbuf, 65536, "Cyrus server's maxbuf");
    layer_then_quit(peer, &neg, client.security_layer(), false);
}

#[test]
fn client_auth() {
    client_case(Qop::Auth, None, false, false);
    client_case(Qop::Auth, None, true, false);
}

#[test]
fn client_auth_int() {
    client_case(Qop::AuthInt, None, false, false);
    client_case(Qop::AuthInt, None, true, false);
}

#[test]
fn client_auth_conf_each_cipher() {
    for (i, c) in CIPHERS.into_iter().enumerate() {
        client_case(Qop::AuthConf, Some(c), i % 2 == 0, false);
    }
}

#[test]
fn client_auth_conf_3des_with_parity_shim() {
    client_case(Qop::AuthConf, Some(Cipher::TripleDes), true, true);
    client_case(Qop::AuthConf, Some(Cipher::TripleDes), false, true);
}

/// Stock Cyrus on OpenSSL 3 cannot key 3des: the Cyrus server refuses our (correct)
/// response with a FAIL line, and our client does not complete.
#[test]
fn client_3des_stock_cyrus_refuses() {
    if common::peer::OUR_PLUGIN {
        // Our plugin keys 3des itself: no shim needed.
        client_case(Qop::AuthConf, Some(Cipher::TripleDes), true, false);
        client_case(Qop::AuthConf, Some(Cipher::TripleDes), false, false);
        return;
    }
    let args = strs(&[
        "--cipher",
        "3des",
        "--user",
        "alice:secret",
        "--realm",
        REALM,
    ]);
    let mut peer = server_peer(&args, false);
    let cfg = our_client_config("alice", "secret", Qop::AuthConf, Some(Cipher::TripleDes));
    let mut client = ClientContext::new(cfg).unwrap();
    match our_client_vs_cyrus(&mut client, &mut peer) {
        Err(Failure::Peer(line)) => assert!(line.contains("3des"), "{line}"),
        other => peer.fail(&format!(
            "expected the Cyrus server to refuse 3des: {other:?}"
        )),
    }
    assert!(!client.is_established());
    assert!(matches!(
        client.security_layer(),
        Err(Error::OutOfSequence(_))
    ));
    assert!(!peer.exit_success(), "the Cyrus peer exits with status 1");
}

/// Our client picks from the full Cyrus offer (rc4-40,rc4-56,rc4,des,3des): rc4.
#[test]
fn client_default_choice_from_full_offer() {
    let args = strs(&["--user", "alice:secret", "--realm", REALM]);
    let mut peer = server_peer(&args, false);
    let target = Target::new(SERVICE, HOST).unwrap();
    let cfg =
        ClientConfig::new("alice", Credential::password("secret"), target).max_qop(Qop::AuthConf);
    let mut client = ClientContext::new(cfg).unwrap();
    let neg = client_authenticates(&mut client, &mut peer);
    assert_eq!((neg.qop, neg.cipher), (Qop::AuthConf, Some(Cipher::Rc4)));
    layer_then_quit(peer, &neg, client.security_layer(), false);
}

/// Small buffers on both sides: the largest messages each way hit the exact limits.
#[test]
fn client_small_maxbuf() {
    for (qop, cipher) in [
        (Qop::AuthInt, None),
        (Qop::AuthConf, Some(Cipher::Des)),
        (Qop::AuthConf, Some(Cipher::Rc4)),
    ] {
        let mut args = cipher_arg(qop, cipher);
        args.extend(
            [
                "--user",
                "alice:secret",
                "--realm",
                REALM,
                "--maxbuf",
                "1200",
                "--success-data",
            ]
            .map(String::from),
        );
        let mut peer = server_peer(&args, false);
        let cfg = our_client_config("alice", "secret", qop, cipher).maxbuf(2000);
        let mut client = ClientContext::new(cfg).unwrap();
        let neg = client_authenticates(&mut client, &mut peer);
        assert_eq!((neg.own_maxbuf, neg.peer_maxbuf), (2000, 1200));
        layer_then_quit(peer, &neg, client.security_layer(), false);
    }
}

/// Non-ASCII credentials and an authzid (Cyrus reports it as `authzid@realm`).
#[test]
fn client_non_ascii_and_authzid() {
    for (user, pass, authzid) in [
        ("Jürgen", "pässwörd", Some("Zoë")),
        ("用户", "пароль", Some("管理者")),
        ("alice", "secret", Some("alice")),
        ("bob", "secret", None),
    ] {
        let spec = format!("{user}:{pass}");
        let args = strs(&["--qop", "auth-conf", "--user", &spec, "--realm", REALM]);
        let mut peer = server_peer(&args, false);
        let mut cfg = our_client_config(user, pass, Qop::AuthConf, None);
        if let Some(z) = authzid {
            cfg = cfg.authzid(z);
        }
        let mut client = ClientContext::new(cfg).unwrap();
        let neg = client_authenticates(&mut client, &mut peer);
        let inf = info(&mut peer);
        let expect = format!("{}@{REALM}", authzid.unwrap_or(user));
        assert_eq!(inf.username, expect, "Cyrus SASL_USERNAME");
        assert_eq!(neg.username, user);
        layer_then_quit(peer, &neg, client.security_layer(), false);
    }
}

/// A wrong password or an unknown user: the Cyrus server fails, we do not complete.
#[test]
fn client_wrong_password() {
    // SASL_BADAUTH (-13) for a wrong password, SASL_NOUSER (-20) for an unknown user
    for (user, pass, code) in [
        ("alice", "wrong", -13),
        ("mallory", "secret", -20),
        ("Jürgen", "passwörd", -13),
    ] {
        let args = strs(&[
            "--user",
            "alice:secret",
            "--user",
            "Jürgen:pässwörd",
            "--realm",
            REALM,
        ]);
        let mut peer = server_peer(&args, false);
        let mut client =
            ClientContext::new(our_client_config(user, pass, Qop::Auth, None)).unwrap();
        match our_client_vs_cyrus(&mut client, &mut peer) {
            Err(Failure::Peer(line)) => {
                assert!(line.starts_with(&format!("FAIL {code} ")), "{line}")
            }
            other => peer.fail(&format!("wrong password accepted? {other:?}")),
        }
        assert!(!client.is_established());
        assert!(client.negotiated().map_or(true, |n| !n.mutual));
        assert!(!peer.exit_success());
    }
}

/// Cyrus offers one realm; it accepts another realm the client chooses (and looks
/// the password up there).
#[test]
fn client_realm_not_offered() {
    let args = strs(&[
        "--user",
        "alice:other-secret:other.org",
        "--realm",
        REALM,
        "--qop",
        "auth-int",
    ]);
    let mut peer = server_peer(&args, false);
    let cfg = our_client_config("alice", "other-secret", Qop::AuthInt, None).realm("other.org");
    let mut client = ClientContext::new(cfg).unwrap();
    let neg = client_authenticates(&mut client, &mut peer);
    assert_eq!(neg.realm.as_deref(), Some("other.org"));
    layer_then_quit(peer, &neg, client.security_layer(), false);
}

// ---------------------------------------------------------------------------
// Cyrus client -> our server

fn server_case(qop: Qop, cipher: Option<Cipher>, shim: bool, maxbufs: Option<(u32, u32)>) {
    let mut args = cipher_arg(qop, cipher);
    args.extend(["--authcid", "alice", "--password", "secret"].map(String::from));
    let (ours, theirs) = maxbufs.unwrap_or((65536, 65536));
    if maxbufs.is_some() {
        args.extend(["--maxbuf".to_string(), theirs.to_string()]);
    }
    let mut peer = client_peer(&args, shim);
    let mut server = our_server(QopSet::ALL, ours, &[REALM], &[("alice", REALM, "secret")]);
    let neg = server_authenticates(&mut server, &mut peer);
    assert_eq!((neg.qop, neg.cipher), (qop, cipher));
    assert_eq!(neg.username, "alice");
    assert_eq!(neg.realm.as_deref(), Some(REALM));
    assert_eq!(neg.authzid, None);
    assert_eq!((neg.own_maxbuf, neg.peer_maxbuf), (ours, theirs));
    layer_then_quit(peer, &neg, server.security_layer(), true);
}

#[test]
fn server_auth() {
    server_case(Qop::Auth, None, false, None);
}

#[test]
fn server_auth_int() {
    server_case(Qop::AuthInt, None, false, None);
}

#[test]
fn server_auth_conf_each_cipher() {
    for c in CIPHERS {
        server_case(Qop::AuthConf, Some(c), false, None);
    }
}

#[test]
fn server_auth_conf_3des_with_parity_shim() {
    server_case(Qop::AuthConf, Some(Cipher::TripleDes), true, None);
}

/// Stock Cyrus on OpenSSL 3: the Cyrus client cannot even build its 3des response.
#[test]
fn server_3des_stock_cyrus_refuses() {
    if common::peer::OUR_PLUGIN {
        server_case(Qop::AuthConf, Some(Cipher::TripleDes), false, None);
        return;
    }
    let args = strs(&[
        "--cipher",
        "3des",
        "--authcid",
        "alice",
        "--password",
        "secret",
    ]);
    let mut peer = client_peer(&args, false);
    let mut server = our_server(QopSet::ALL, 65536, &[REALM], &[("alice", REALM, "secret")]);
    match cyrus_vs_our_server(&mut server, &mut peer) {
        Err(Failure::Peer(line)) => assert!(line.contains("3des"), "{line}"),
        other => peer.fail(&format!(
            "expected the Cyrus client to fail on 3des: {other:?}"
        )),
    }
    assert!(!server.is_established());
    assert!(!peer.exit_success());
}

#[test]
fn server_small_maxbuf() {
    for (qop, cipher) in [
        (Qop::AuthInt, None),
        (Qop::AuthConf, Some(Cipher::Des)),
        (Qop::AuthConf, Some(Cipher::Rc4_40)),
    ] {
        server_case(qop, cipher, false, Some((1100, 1500)));
    }
}

#[test]
fn server_non_ascii_and_authzid() {
    for (user, pass, authzid, expect_authzid) in [
        ("Jürgen", "pässwörd", Some("Zoë"), Some("Zoë")),
        ("用户", "пароль", Some("管理者"), Some("管理者")),
        // Cyrus drops an authzid equal to the authcid
        ("alice", "secret", Some("alice"), None),
    ] {
        let mut args = strs(&["--qop", "auth-conf", "--authcid", user, "--password", pass]);
        if let Some(z) = authzid {
            args.extend(["--authzid".to_string(), z.to_string()]);
        }
        let mut peer = client_peer(&args, false);
        let mut server = our_server(QopSet::ALL, 65536, &[REALM], &[(user, REALM, pass)]);
        let neg = server_authenticates(&mut server, &mut peer);
        assert_eq!(neg.username, user);
        assert_eq!(neg.authzid.as_deref(), expect_authzid);
        assert_eq!((neg.qop, neg.cipher), (Qop::AuthConf, Some(Cipher::Rc4)));
        layer_then_quit(peer, &neg, server.security_layer(), true);
    }
}

#[test]
fn server_wrong_password() {
    for (user, pass) in [
        ("alice", "wrong"),
        ("mallory", "secret"),
        ("Jürgen", "passwörd"),
    ] {
        let args = strs(&["--authcid", user, "--password", pass]);
        let mut peer = client_peer(&args, false);
        let mut server = our_server(
            QopSet::ALL,
            65536,
            &[REALM],
            &[("alice", REALM, "secret"), ("Jürgen", REALM, "pässwörd")],
        );
        match cyrus_vs_our_server(&mut server, &mut peer) {
            Err(Failure::Ours(e)) => {
                assert!(matches!(e, Error::LogonDenied), "{e:?}");
                assert_eq!(e.status(), SspiStatus::SEC_E_LOGON_DENIED);
            }
            other => peer.fail(&format!("wrong password accepted? {other:?}")),
        }
        assert!(!server.is_established());
        assert!(!peer.exit_success());
    }
}

/// Our server offers several realms; the Cyrus client picks the second one (through
/// its GETREALM callback), or the first when told nothing.
#[test]
fn server_several_realms() {
    for (pick, expect) in [(Some("other.org"), "other.org"), (None, REALM)] {
        let mut args = strs(&[
            "--qop",
            "auth-int",
            "--authcid",
            "alice",
            "--password",
            "secret",
        ]);
        if let Some(r) = pick {
            args.extend(["--realm".to_string(), r.to_string()]);
        }
        let mut peer = client_peer(&args, false);
        let mut server = our_server(
            QopSet::ALL,
            65536,
            &[REALM, "other.org", "third.net"],
            &[("alice", REALM, "secret"), ("alice", "other.org", "secret")],
        );
        let neg = server_authenticates(&mut server, &mut peer);
        assert_eq!(neg.realm.as_deref(), Some(expect));
        layer_then_quit(peer, &neg, server.security_layer(), true);
    }
}

/// Our server offers no realm: the Cyrus client makes one up from the host name, and
/// our store is asked for that realm.
#[test]
fn server_no_realm_offered() {
    let args = strs(&[
        "--qop",
        "auth-int",
        "--authcid",
        "alice",
        "--password",
        "secret",
    ]);
    let mut peer = client_peer(&args, false);
    let config = ServerConfig::new(SERVICE, HOST).qops(QopSet::only(Qop::AuthInt));
    let mut server = our_server_with(config, &[("alice", HOST, "secret")]);
    let neg = server_authenticates(&mut server, &mut peer);
    assert_eq!(neg.realm.as_deref(), Some(HOST));
    layer_then_quit(peer, &neg, server.security_layer(), true);
}
