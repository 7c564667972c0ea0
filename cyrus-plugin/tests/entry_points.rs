//! The plugin's C entry points driven in-process by a stand-in for libsasl2
//! (`support/fake_sasl.rs`): our client plugin against our server plugin for every
//! layer, credentials through callbacks and through `SASL_INTERACT` prompts, the
//! security layer through `encode`/`decode` with arbitrary chunking, and the result
//! codes for wrong passwords, unknown users and hostile challenges.

#[path = "support/fake_sasl.rs"]
mod fake_sasl;

use fake_sasl::{Conn, Env, Harness, Sec};

const CONTINUE: i32 = 1;
const OK: i32 = 0;
const BADPROT: i32 = -5;
const BADAUTH: i32 = -13;
const TOOWEAK: i32 = -15;
const NOUSER: i32 = -20;
const INTERACT: i32 = 2;

fn sec(min: u32, max: u32) -> Sec {
    Sec {
        min_ssf: min,
        max_ssf: max,
        maxbufsize: 65536,
    }
}

fn server_harness() -> Harness {
    let mut env = Env::new("", "");
    env.users = vec![("alice".into(), b"secret".to_vec())];
    Harness::new(env)
}

/// Runs a whole authentication as libsasl2's glue does (an initial response if the
/// client has one, then challenge/response until the server says OK); returns the
/// connections and how many server steps it took, or the first failing code with
/// the side's error text.
fn authenticate_on(
    ch: &mut Harness,
    sh: &mut Harness,
    host: &str,
    csec: Sec,
    ssec: Sec,
) -> Result<(Conn, Conn, usize), (i32, String)> {
    let mut client = Conn::client(ch, "ldap", host, csec);
    let mut server = Conn::server(sh, "ldap", host, "example.com", ssec);
    // sasl_client_start: an initial response only when reauthenticating.
    let (mut r, mut out) = client.step(ch, None);
    if r == INTERACT {
        (r, out) = client.step(ch, None);
    }
    assert_eq!(r, CONTINUE, "{}", ch.env.error);
    let mut input = (!out.is_empty()).then_some(out);
    for steps in 1..5 {
        let (r, s_out) = server.step(sh, input.as_deref());
        if r == OK {
            let (r, last) = client.step(ch, Some(&s_out));
            if r != OK {
                return Err((r, ch.env.error.clone()));
            }
            assert!(last.is_empty());
            return Ok((client, server, steps));
        }
        if r != CONTINUE {
            return Err((r, sh.env.error.clone()));
        }
        let (mut r, mut c_out) = client.step(ch, Some(&s_out));
        if r == INTERACT {
            assert!(ch.env.interact);
            (r, c_out) = client.step(ch, Some(&s_out));
        }
        if r != CONTINUE {
            return Err((r, ch.env.error.clone()));
        }
        input = Some(c_out);
    }
    panic!("no end to the exchange");
}

/// Each call a host of its own: the client's reauthentication cache is per process
/// and keyed by server.
fn authenticate(
    ch: &mut Harness,
    sh: &mut Harness,
    csec: Sec,
    ssec: Sec,
) -> Result<(Conn, Conn), (i32, String)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let host = format!("host{}.example.com", N.fetch_add(1, Ordering::SeqCst));
    authenticate_on(ch, sh, &host, csec, ssec).map(|(c, s, _)| (c, s))
}

#[test]
fn our_client_plugin_against_our_server_plugin_every_layer() {
    for interact in [false, true] {
        for (ssf, qop_overhead) in [
            (0, 0),
            (1, 16),
            (40, 25),
            (55, 25),
            (56, 25),
            (112, 25),
            (128, 25),
        ] {
            let mut env = Env::new("alice", "secret");
            env.interact = interact;
            let mut ch = Harness::new(env);
            let mut sh = server_harness();
            let (mut c, mut s) = authenticate(&mut ch, &mut sh, sec(ssf, ssf), sec(0, 256))
                .unwrap_or_else(|e| panic!("ssf {ssf} interact {interact}: {e:?}"));
            assert_eq!((c.ssf(), s.ssf()), (ssf, ssf));
            assert_eq!((c.oparams.doneflag, s.oparams.doneflag), (1, 1));
            assert_eq!(s.oparams.alen, 5, "server canonicalized the authid");
            if ssf == 0 {
                assert!(c.oparams.encode.is_none() && s.oparams.decode.is_none());
                continue;
            }
            // maxoutbuf as Cyrus computes it (both maxbufs 65536).
            assert_eq!(c.oparams.maxoutbuf, 65536 - qop_overhead);
            assert_eq!(s.oparams.maxoutbuf, 65536 - 4 - qop_overhead);
            // Two messages in three iovecs, decoded in 7-byte chunks, and back.
            let msg: Vec<u8> = (0..5000u32).map(|i| (i * 13) as u8).collect();
            let mut wire = c
                .encode(&[&msg[..10], &msg[10..4000], &msg[4000..]])
                .unwrap();
            wire.extend(c.encode(&[b"second"]).unwrap());
            let mut got = Vec::new();
            for piece in wire.chunks(7) {
                got.extend(s.decode(piece).unwrap());
            }
            assert_eq!(&got[..5000], &msg[..]);
            assert_eq!(&got[5000..], b"second");
            let back = s.encode(&[&msg]).unwrap();
            assert_eq!(c.decode(&back).unwrap(), msg);
            // A replay is refused (SASL_BADMAC).
            assert_eq!(c.decode(&back), Err(-9));
            c.dispose(&ch);
            s.dispose(&sh);
        }
    }
}

#[test]
fn wrong_password_unknown_user_and_policy() {
    let mut ch = Harness::new(Env::new("alice", "wrong"));
    let mut sh = server_harness();
    let e = authenticate(&mut ch, &mut sh, sec(0, 256), sec(0, 256))
        .err()
        .unwrap();
    assert_eq!(e.0, BADAUTH, "{e:?}");
    let mut ch = Harness::new(Env::new("mallory", "secret"));
    let e = authenticate(&mut ch, &mut sh, sec(0, 256), sec(0, 256))
        .err()
        .unwrap();
    assert_eq!(e.0, NOUSER, "{e:?}");
    // The client requires 128 bits, the server allows at most 56: refused before
    // anything is sent.
    let mut ch = Harness::new(Env::new("alice", "secret"));
    let e = authenticate(&mut ch, &mut sh, sec(128, 256), sec(0, 56))
        .err()
        .unwrap();
    assert_eq!(e.0, TOOWEAK, "{e:?}");
    // The server requires a layer the client's max_ssf forbids.
    let mut ch = Harness::new(Env::new("alice", "secret"));
    let e = authenticate(&mut ch, &mut sh, sec(0, 0), sec(1, 256))
        .err()
        .unwrap();
    assert_eq!(e.0, TOOWEAK, "{e:?}");
}

#[test]
fn the_prompts_the_client_asks_for() {
    let mut env = Env::new("alice", "secret");
    env.interact = true;
    let mut ch = Harness::new(env);
    let mut c = Conn::client(&mut ch, "ldap", "h", sec(0, 0));
    assert_eq!(c.step(&mut ch, None).0, CONTINUE);
    let challenge = br#"realm="r",nonce="n1",qop="auth",charset=utf-8,algorithm=md5-sess"#;
    assert_eq!(c.step(&mut ch, Some(challenge)).0, INTERACT);
    // Answered (an empty authzid means none): the response comes.
    let (r, resp) = c.step(&mut ch, Some(challenge));
    assert_eq!(r, CONTINUE, "{}", ch.env.error);
    let resp = String::from_utf8(resp).unwrap();
    assert!(
        resp.contains("username=\"alice\"") && resp.contains("digest-uri=\"ldap/h\""),
        "{resp}"
    );
    assert!(!resp.contains("authzid"), "{resp}");
}

#[test]
fn hostile_challenges_are_refused_with_badprot() {
    for challenge in [
        &br#"realm="r",nonce="a",nonce="b",qop="auth",algorithm=md5-sess"#[..],
        &b"realm=\"\xff\xfe\",nonce=\"a\",qop=\"auth\",charset=utf-8,algorithm=md5-sess"[..],
        &b"\x00\x01garbage"[..],
        &br#"nonce="a",qop="auth",algorithm=md5"#[..],
    ] {
        let mut ch = Harness::new(Env::new("alice", "secret"));
        let mut c = Conn::client(&mut ch, "ldap", "h", sec(0, 256));
        assert_eq!(c.step(&mut ch, None).0, CONTINUE);
        let (r, out) = c.step(&mut ch, Some(challenge));
        assert_eq!(r, BADPROT, "{:?}", String::from_utf8_lossy(challenge));
        assert!(out.is_empty());
        assert!(
            ch.env.error.starts_with("DIGEST-MD5: bad challenge"),
            "{}",
            ch.env.error
        );
        // The context stays failed.
        assert_eq!(c.step(&mut ch, Some(b"rspauth=00")).0, BADPROT);
    }
    // A server gets a garbage response.
    let mut sh = server_harness();
    let mut s = Conn::server(&mut sh, "ldap", "h", "r", sec(0, 256));
    assert_eq!(s.step(&mut sh, None).0, CONTINUE);
    assert_eq!(s.step(&mut sh, Some(b"username=")).0, BADPROT);
}

#[test]
fn plugin_api_version_below_4_is_refused() {
    use digestmd5::ffi::*;
    let mut v = 0;
    let mut list: *const sasl_client_plug_t = std::ptr::null();
    let mut n = 0;
    // SAFETY: NULL utils is allowed by the plugin (it only uses it for errors).
    let r = unsafe { sasl_client_plug_init(std::ptr::null(), 3, &mut v, &mut list, &mut n) };
    assert_eq!(r, -23);
    assert!(list.is_null());
}

/// Reauthentication as Cyrus offers it: the client keeps the last authentication per
/// server; a server with `reauth_timeout` set takes the client-first response in one
/// step (next nonce-count, fresh cnonce, so fresh layer keys); a server without it
/// answers with a challenge and the client authenticates afresh.
#[test]
fn reauthentication_across_connections() {
    let mut ch = Harness::new(Env::new("alice", "secret"));
    let mut sh = server_harness();
    sh.env.options = vec![("reauth_timeout".into(), "10".into())];
    let layer = sec(128, 128);
    let (c1, s1, steps) =
        authenticate_on(&mut ch, &mut sh, "reauth.example.com", layer, sec(0, 256)).unwrap();
    assert_eq!(steps, 2, "first authentication: challenge, then response");
    let (mut c2, mut s2, steps) =
        authenticate_on(&mut ch, &mut sh, "reauth.example.com", layer, sec(0, 256)).unwrap();
    assert_eq!(steps, 1, "reauthentication: one round trip");
    assert_eq!((c2.ssf(), s2.ssf()), (128, 128));
    let wire = c2.encode(&[b"after reauth"]).unwrap();
    assert_eq!(s2.decode(&wire).unwrap(), b"after reauth");
    // Fresh keys: the first connection's server cannot read the second's traffic.
    let mut s1 = s1;
    assert!(s1.decode(&wire).is_err());
    c1.dispose(&ch);
    // A server without the option refuses the reauthentication with a challenge;
    // the client authenticates afresh, transparently.
    let mut plain = server_harness();
    let (c3, s3, steps) = authenticate_on(
        &mut ch,
        &mut plain,
        "reauth.example.com",
        layer,
        sec(0, 256),
    )
    .unwrap();
    assert_eq!(steps, 2);
    assert_eq!(s3.ssf(), 128);
    // The cached layer no longer fits the client's properties: no reauthentication.
    let (_, _, steps) = authenticate_on(
        &mut ch,
        &mut sh,
        "reauth.example.com",
        sec(0, 1),
        sec(0, 256),
    )
    .unwrap();
    assert_eq!(steps, 2);
    c3.dispose(&ch);
    s3.dispose(&plain);
    s2.dispose(&sh);
}

/// The prompt array comes from `utils->malloc` and is the plugin's to free: after it
/// was read, and also when the step that should read it fails first (found by the
/// fuzz target: a reauthentication prompt followed by a garbage challenge).
#[test]
fn prompt_arrays_are_always_freed() {
    let live = || fake_sasl::LIVE_BLOCKS.with(|c| c.get());
    let before = live();
    let mut env = Env::new("alice", "secret");
    env.interact = true;
    let mut ch = Harness::new(env);
    let mut sh = server_harness();
    let host = "prompts.example.com";
    authenticate_on(&mut ch, &mut sh, host, sec(0, 256), sec(0, 256)).unwrap();
    assert_eq!(
        live(),
        before,
        "after a full authentication through prompts"
    );
    // The cache now knows the server: sasl_client_start asks for credentials.
    let mut c = Conn::client(&mut ch, "ldap", host, sec(0, 256));
    let (r, _) = c.step_raw(&mut ch, None);
    assert_eq!(r, INTERACT);
    assert_eq!(live(), before + 1, "the prompt array is out");
    let (r, _) = c.step_raw(&mut ch, Some(b"\x00garbage"));
    assert_eq!(r, BADPROT);
    assert_eq!(live(), before, "freed although never read");
    c.dispose(&ch);
    // The application gives up on the prompts and disposes of the connection.
    let mut c = Conn::client(&mut ch, "ldap", host, sec(0, 256));
    assert_eq!(c.step_raw(&mut ch, None).0, INTERACT);
    assert_eq!(live(), before + 1);
    c.dispose(&ch);
    assert_eq!(live(), before, "freed by mech_dispose");
}
