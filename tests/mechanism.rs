//! The rsasl mechanism end to end (client and server sessions in memory), its
//! security layer through `Session::encode`/`decode`, and the tokio secure stream.

#[path = "common/rsasl.rs"]
mod sessions;

use std::sync::Arc;

use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::prelude::*;
use rsasl::validate::NoValidation;
use sasl_digest_md5::mechanism::{ClientPolicy, KeepOutcome, ServerPolicy, SessionErrorExt};
use sasl_digest_md5::stream::SecureStream;
use sasl_digest_md5::{
    Cipher, CipherSet, Downgrade, Error, Qop, QopSet, ReauthCache, ReauthTicket, Requirements,
};
use sessions::{client_session, server_session, Authenticated, ClientCb, ServerCb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Alice with her password, the default policy, no ticket.
fn alice() -> ClientCb {
    ClientCb {
        password: "secret",
        ..Default::default()
    }
}

/// The reauthentication ticket of the exchange `cb` saw finish.
fn ticket_of(cb: &ClientCb) -> ReauthTicket {
    let outcome = cb.outcome.lock().unwrap().clone();
    outcome.unwrap().reauth_ticket.unwrap()
}

fn policy(qop: Qop, cipher: Option<Cipher>) -> ClientPolicy {
    let requirements = match qop {
        Qop::Auth => Requirements::NONE,
        Qop::AuthInt => Requirements::INTEGRITY,
        Qop::AuthConf => Requirements::CONFIDENTIALITY,
    };
    ClientPolicy {
        requirements,
        max_qop: qop,
        ciphers: cipher.map(|c| vec![c]),
        ..ClientPolicy::default()
    }
}

fn server_policy() -> ServerPolicy {
    ServerPolicy {
        realms: vec!["example.com".into(), "other.org".into()],
        qops: QopSet::ALL,
        ciphers: CipherSet::ALL,
        ..ServerPolicy::default()
    }
}

type Sessions = (Session<NoValidation>, Session<Authenticated>, Arc<ClientCb>);

fn sessions(client_cb: ClientCb, spol: ServerPolicy) -> Sessions {
    let ccb = Arc::new(client_cb);
    let (client, server) = sessions_with(ArcCb(ccb.clone()), spol);
    (client, server, ccb)
}

/// A client session with this callback and a server session with this policy, where
/// alice's password is "secret".
fn sessions_with(
    client_cb: impl SessionCallback + 'static,
    spol: ServerPolicy,
) -> (Session<NoValidation>, Session<Authenticated>) {
    let server_cb = ServerCb {
        require_realm: true,
        ..ServerCb::new(spol, |user| (user == "alice").then_some("secret"))
    };
    (client_session(client_cb), server_session(server_cb))
}

/// The server's challenge, given to the client: returns the client's response.
fn respond(client: &mut Session<NoValidation>, server: &mut Session<Authenticated>) -> Vec<u8> {
    let (mut ch, mut resp) = (Vec::new(), Vec::new());
    server.step(None, &mut ch).unwrap();
    client.step(Some(&ch), &mut resp).unwrap();
    resp
}

struct ArcCb(Arc<ClientCb>);
impl SessionCallback for ArcCb {
    fn callback(&self, s: &SessionData, c: &Context, r: &mut Request) -> Result<(), SessionError> {
        self.0.callback(s, c, r)
    }
}

/// Runs the exchange the way LDAP does (rspauth as success data).
fn authenticate((mut client, mut server, cb): Sessions) -> Result<Sessions, SessionError> {
    assert!(server.are_we_first());
    assert!(!client.are_we_first());
    let mut challenge = Vec::new();
    assert!(server.step(None, &mut challenge)?.is_running());
    let mut response = Vec::new();
    assert!(client.step(Some(&challenge), &mut response)?.is_running());
    let mut rspauth = Vec::new();
    assert_eq!(
        server.step(Some(&response), &mut rspauth)?,
        State::Finished(MessageSent::Yes)
    );
    assert!(rspauth.starts_with(b"rspauth="));
    assert_eq!(
        client.step(Some(&rspauth), &mut Vec::new())?,
        State::Finished(MessageSent::No)
    );
    Ok((client, server, cb))
}

#[test]
fn auth_through_rsasl_with_realm_choice_and_validation() {
    let cb = ClientCb {
        pick_realm: Some("other.org"),
        ..alice()
    };
    let (client, mut server, cb) = authenticate(sessions(cb, server_policy())).unwrap();
    assert_eq!(
        *cb.seen_realms.lock().unwrap(),
        ["example.com", "other.org"]
    );
    assert_eq!(
        server.validation(),
        Some(("alice".to_owned(), String::new()))
    );
    let o = cb.outcome.lock().unwrap().clone().unwrap();
    assert_eq!(o.negotiated.qop, Qop::Auth);
    assert_eq!(o.negotiated.realm.as_deref(), Some("other.org"));
    assert!(o.reauth_ticket.is_some());
    assert!(!client.has_security_layer());
    assert!(!server.has_security_layer());
}

#[test]
fn wrong_password_is_an_outcome_error() {
    let (mut client, mut server, _) = sessions(
        ClientCb {
            password: "wrong",
            ..Default::default()
        },
        server_policy(),
    );
    let resp = respond(&mut client, &mut server);
    let err = server.step(Some(&resp), &mut Vec::new()).unwrap_err();
    assert!(err.is_mechanism_error(), "{err:?}");
    // One documented way from the rsasl error to this crate's.
    assert!(
        matches!(err.digest_error(), Some(Error::LogonDenied)),
        "{err:?}"
    );
    assert!(err.is_bad_credentials() && err.is_peer_fault() && !err.is_downgrade());
    assert_eq!(server.validation(), None);
}

#[test]
fn negotiated_is_one_call_away_with_keep_outcome() {
    let cb = ClientCb {
        policy: ClientPolicy::require_confidentiality(),
        ..alice()
    };
    let (callback, outcome) = KeepOutcome::wrap(cb);
    let spol = ServerPolicy {
        realms: vec!["example.com".into()],
        ..ServerPolicy::offer_layers()
    };
    let (client, server) = sessions_with(callback, spol);
    assert!(outcome.negotiated().is_none());
    authenticate((client, server, Arc::new(ClientCb::default()))).unwrap();
    let n = outcome.negotiated().expect("the outcome was kept");
    assert_eq!(
        (n.qop, n.cipher, n.ssf),
        (Qop::AuthConf, Some(Cipher::Rc4), 128)
    );
    assert_eq!((n.own_maxbuf, n.peer_maxbuf), (65536, 65536));
    assert!(outcome.reauth_ticket().is_some());
}

#[test]
fn downgrade_through_rsasl_is_typed() {
    let cb = ClientCb {
        policy: ClientPolicy::require_confidentiality(),
        ..alice()
    };
    let (mut client, mut server, _) = sessions(
        cb,
        ServerPolicy {
            qops: QopSet::only(Qop::Auth),
            ..server_policy()
        },
    );
    let mut ch = Vec::new();
    server.step(None, &mut ch).unwrap();
    let err = client.step(Some(&ch), &mut Vec::new()).unwrap_err();
    assert!(err.is_downgrade() && err.is_peer_fault(), "{err:?}");
    assert!(matches!(
        err.digest_error(),
        Some(Error::DowngradeRefused(
            Downgrade::ConfidentialityNotOffered { .. }
        ))
    ));
}

#[test]
fn client_step_without_challenge_is_recoverable() {
    let (mut client, mut server, _) = sessions(alice(), server_policy());
    assert!(matches!(
        client.step(None, &mut Vec::new()),
        Err(SessionError::InputDataRequired)
    ));
    let mut ch = Vec::new();
    server.step(None, &mut ch).unwrap();
    assert!(client
        .step(Some(&ch), &mut Vec::new())
        .unwrap()
        .is_running());
}

#[test]
fn bad_rspauth_and_junk_after_success() {
    let (mut client, mut server, _) = sessions(alice(), server_policy());
    respond(&mut client, &mut server);
    // The protocol ended without rspauth: mutual authentication fails.
    assert!(matches!(
        client.step(None, &mut Vec::new()),
        Err(SessionError::MutualAuthenticationFailed)
    ));

    let (mut client, mut server, _) = sessions(alice(), server_policy());
    let resp = respond(&mut client, &mut server);
    let mut rsp = Vec::new();
    server.step(Some(&resp), &mut rsp).unwrap();
    // IMAP/XMPP: rspauth as a challenge, then (Prosody) junk as success data.
    assert!(client
        .step(Some(&rsp), &mut Vec::new())
        .unwrap()
        .is_finished());
    assert!(client
        .step(Some(b"\x00garbage"), &mut Vec::new())
        .unwrap()
        .is_finished());
}

#[test]
fn layers_through_session_encode_decode() {
    for (qop, cipher) in [
        (Qop::AuthInt, None),
        (Qop::AuthConf, Some(Cipher::Rc4)),
        (Qop::AuthConf, Some(Cipher::TripleDes)),
        (Qop::AuthConf, Some(Cipher::Des)),
    ] {
        let cb = ClientCb {
            policy: ClientPolicy {
                maxbuf: 1000,
                ..policy(qop, cipher)
            },
            ..alice()
        };
        let (mut client, mut server, cb) = authenticate(sessions(cb, server_policy())).unwrap();
        assert!(client.has_security_layer() && server.has_security_layer());
        let o = cb.outcome.lock().unwrap().clone().unwrap();
        assert_eq!((o.negotiated.qop, o.negotiated.cipher), (qop, cipher));
        // Server -> client: a message larger than the client's maxbuf is split.
        let msg: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let mut wire = Vec::new();
        let mut taken = 0;
        while taken < msg.len() {
            taken += server.encode(&msg[taken..], &mut wire).unwrap();
        }
        let mut plain = Vec::new();
        let mut pos = 0;
        // A partial frame asks for more input.
        assert!(matches!(
            client.decode(&wire[..3], &mut plain),
            Err(SessionError::InputDataRequired)
        ));
        assert!(matches!(
            client.decode(&wire[..20], &mut plain),
            Err(SessionError::InputDataRequired)
        ));
        let mut frames = 0;
        while pos < wire.len() {
            let n = client.decode(&wire[pos..], &mut plain).unwrap();
            assert!(
                n - 4 <= 1000,
                "frame of {} bytes exceeds the client's maxbuf",
                n - 4
            );
            pos += n;
            frames += 1;
        }
        assert!(frames >= 5);
        assert_eq!(plain, msg);
        // Client -> server, and tampering is refused.
        let mut w = Vec::new();
        client.encode(b"hello", &mut w).unwrap();
        let mut bad = w.clone();
        bad[6] ^= 1;
        let mut out = Vec::new();
        assert!(server.decode(&bad, &mut out).is_err());
    }
}

#[test]
fn auth_only_has_no_layer() {
    let (mut client, _, _) = authenticate(sessions(alice(), server_policy())).unwrap();
    assert!(matches!(
        client.encode(b"x", &mut Vec::new()),
        Err(SessionError::NoSecurityLayer)
    ));
}

#[test]
fn downgrade_is_refused_by_the_mechanism() {
    let cb = ClientCb {
        policy: policy(Qop::AuthConf, None),
        ..alice()
    };
    let spol = ServerPolicy {
        qops: QopSet::only(Qop::Auth),
        ..server_policy()
    };
    assert!(authenticate(sessions(cb, spol)).is_err());
}

#[test]
fn subsequent_authentication_through_rsasl() {
    let cache = ReauthCache::new(8, std::time::Duration::from_secs(60));
    let spol = ServerPolicy {
        reauth_cache: Some(cache.clone()),
        ..server_policy()
    };
    let (_, _, cb) = authenticate(sessions(alice(), spol.clone())).unwrap();
    let ticket = ticket_of(&cb);
    // New connection: the client goes first with the ticket.
    let (mut client, mut server, cb2) = sessions(
        ClientCb {
            ticket: Some(ticket),
            ..alice()
        },
        spol,
    );
    let mut first = Vec::new();
    assert!(client.step(None, &mut first).unwrap().is_running());
    let mut rsp = Vec::new();
    assert_eq!(
        server.step(Some(&first), &mut rsp).unwrap(),
        State::Finished(MessageSent::Yes)
    );
    client.step(Some(&rsp), &mut Vec::new()).unwrap();
    assert_eq!(
        cb2.outcome.lock().unwrap().as_ref().unwrap().negotiated.nc,
        2
    );
    assert!(server.validation().is_some());
}

async fn echo_pair(qop: Qop, cipher: Option<Cipher>) {
    let (c, s) = tokio::io::duplex(4096);
    let cb = ClientCb {
        policy: ClientPolicy {
            maxbuf: 2048,
            ..policy(qop, cipher)
        },
        ..alice()
    };
    let (client, server, _) = authenticate(sessions(cb, server_policy())).unwrap();
    let mut cs = SecureStream::with_session(c, client).unwrap();
    let ss = SecureStream::with_session(s, server).unwrap();
    let (mut sr, mut sw) = ss.into_split();
    // The server echoes from one task, reading and writing concurrently.
    let echo = tokio::spawn(async move { tokio::io::copy(&mut sr, &mut sw).await.map(|_| sw) });
    let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (mut cr, mut cw) = tokio::io::split(&mut cs);
    let m2 = msg.clone();
    let writer = async move {
        cw.write_all(&m2).await.unwrap();
        cw.flush().await.unwrap();
    };
    let reader = async {
        let mut got = vec![0u8; msg.len()];
        cr.read_exact(&mut got).await.unwrap();
        got
    };
    let ((), got) = tokio::join!(writer, reader);
    assert_eq!(got, msg);
    cs.shutdown().await.unwrap();
    drop(cs);
    let _ = echo.await.unwrap();
}

#[tokio::test]
async fn secure_stream_echo_over_rsasl_sessions() {
    echo_pair(Qop::AuthInt, None).await;
    echo_pair(Qop::AuthConf, Some(Cipher::Rc4_56)).await;
    echo_pair(Qop::AuthConf, Some(Cipher::TripleDes)).await;
}

/// Found by fuzzing (`mechanism_client`): `step(None)` after the response failed with
/// `MutualAuthenticationFailed` but left the exchange open, so a later rspauth still
/// finished it. A failed exchange stays failed.
#[test]
fn client_stays_failed_after_the_protocol_ended_without_rspauth() {
    let (mut client, mut server, _) = sessions(alice(), server_policy());
    let resp = respond(&mut client, &mut server);
    let mut rsp = Vec::new();
    server.step(Some(&resp), &mut rsp).unwrap();
    assert!(matches!(
        client.step(None, &mut Vec::new()),
        Err(SessionError::MutualAuthenticationFailed)
    ));
    let late = client.step(Some(&rsp), &mut Vec::new());
    assert!(
        matches!(&late, Err(e) if e.is_mechanism_error()),
        "{late:?}"
    );
    assert!(!client.has_security_layer());
}

/// Found by fuzzing (`mechanism_server`): a response the parser refused failed the
/// step but not the exchange, so the next (good) response was accepted. A failed
/// exchange stays failed.
#[test]
fn server_stays_failed_after_a_malformed_response() {
    let (mut client, mut server, _) = sessions(alice(), server_policy());
    let resp = respond(&mut client, &mut server);
    let err = server
        .step(Some(b"username=\"alice\",nc=0000-002"), &mut Vec::new())
        .unwrap_err();
    assert!(err.is_mechanism_error(), "{err:?}");
    let mut rspauth = Vec::new();
    let late = server.step(Some(&resp), &mut rspauth);
    assert!(
        matches!(&late, Err(e) if e.is_mechanism_error()),
        "{late:?}"
    );
    assert!(rspauth.is_empty());
    assert_eq!(server.validation(), None);
}

/// Found by fuzzing (both mechanism targets): a frame refused for its length prefix
/// (too large, too short) did not fail the layer, unlike a frame refused by the
/// unsealer, so the genuine frame was still accepted afterwards.
#[test]
fn decode_fails_for_good_after_a_bad_length_prefix() {
    for (qop, cipher) in [(Qop::AuthInt, None), (Qop::AuthConf, Some(Cipher::Rc4))] {
        // Above maxbuf (65536), below 16, zero.
        for prefix in [0x0001_0001u32, 15, 0] {
            let cb = ClientCb {
                policy: policy(qop, cipher),
                ..alice()
            };
            let (mut client, mut server, _) = authenticate(sessions(cb, server_policy())).unwrap();
            let mut wire = Vec::new();
            server.encode(b"hello, client", &mut wire).unwrap();
            let mut bad = wire.clone();
            bad[..4].copy_from_slice(&prefix.to_be_bytes());
            let mut out = Vec::new();
            let err = client.decode(&bad, &mut out).unwrap_err();
            assert!(err.is_mechanism_error(), "{err:?}");
            let again = client.decode(&wire, &mut out);
            assert!(
                matches!(&again, Err(e) if e.is_mechanism_error()),
                "{qop:?} prefix {prefix}: {again:?}"
            );
            assert!(out.is_empty());
        }
    }
}

/// Issue 10 §3: a ticket from a qop=auth session, resumed through rsasl under a policy
/// that requires confidentiality, must not send qop=auth.
#[test]
fn rsasl_resume_under_stricter_policy_is_refused_before_sending() {
    let spol = server_policy();
    let (_, _, cb) = authenticate(sessions(alice(), spol.clone())).unwrap();
    let ticket = ticket_of(&cb);
    let strict = ClientPolicy {
        min_cipher_strength: Some(128),
        ..policy(Qop::AuthConf, None)
    };
    let (mut client, _server, _) = sessions(
        ClientCb {
            ticket: Some(ticket),
            policy: strict,
            ..alice()
        },
        spol,
    );
    let mut first = Vec::new();
    let e = client.step(None, &mut first).unwrap_err();
    assert!(first.is_empty(), "nothing may be sent: {first:?}");
    assert!(
        e.to_string()
            .contains("reauthentication ticket is for qop auth"),
        "{e}"
    );
    // The session stays failed.
    assert!(client.step(None, &mut first).is_err());
}

/// The rsasl-backed stream is a type a struct can name, knows what was negotiated,
/// and reports a tampered frame as the `LayerError` itself.
#[tokio::test]
async fn session_stream_is_nameable_knows_the_outcome_and_reports_layer_errors() {
    use sasl_digest_md5::mechanism::SessionStream;
    use sasl_digest_md5::LayerError;

    struct Connection {
        stream: SessionStream<tokio::io::DuplexStream>,
    }

    let cb = ClientCb {
        policy: ClientPolicy {
            maxbuf: 4096,
            ..ClientPolicy::require_confidentiality()
        },
        ..alice()
    };
    let (callback, outcome) = KeepOutcome::wrap(cb);
    let (client, server) = sessions_with(callback, server_policy());
    let (client, server, _) =
        authenticate((client, server, Arc::new(ClientCb::default()))).unwrap();

    let (c, mut raw) = tokio::io::duplex(1 << 16);
    let mut conn = Connection {
        stream: outcome.secure_stream(c, client).unwrap(),
    };
    let n = conn.stream.negotiated().expect("negotiated attached");
    assert_eq!(
        (n.qop, n.cipher, n.own_maxbuf),
        (Qop::AuthConf, Some(Cipher::Rc4), 4096)
    );

    // A genuine frame from the server, one bit flipped on the way.
    let mut server = server;
    let mut frame = Vec::new();
    server.encode(b"hello", &mut frame).unwrap();
    frame[6] ^= 1; // inside the encrypted message, after the 4-byte length prefix
    raw.write_all(&frame).await.unwrap();
    let mut buf = [0u8; 16];
    let e = conn.stream.read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<LayerError>());
    assert_eq!(inner, Some(&LayerError::IntegrityCheckFailed), "{e:?}");

    // Without a finished exchange there is nothing to attach.
    let (c2, _) = tokio::io::duplex(64);
    let (_, empty) = KeepOutcome::wrap(ClientCb::default());
    let (client2, _, _) = sessions(ClientCb::default(), server_policy());
    assert_eq!(
        empty.secure_stream(c2, client2).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}
