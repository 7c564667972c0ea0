//! Replays recorded DIGEST-MD5 transcripts (`digest-md5-transcript/1`) against this
//! crate's client and server, in both roles, with negative checks.
//!
//! ```text
//! cargo run --release --example replay -- fixtures/
//! ```
//! (`examples/replay.rs` is a thin wrapper around this module; `tests/replay.rs`
//! replays `fixtures/` through the same code.)
//! Prints `PASS path` or `FAIL path: reason` per file and a final `N passed, M failed`
//! line; exits non-zero if any file failed.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::wire::{parse_rspauth, Response};
use sasl_digest_md5::{
    Cipher, ClientConfig, ClientContext, Credential, Qop, Requirements, ServerConfig,
    ServerContext, Step, StoredSecret, Target,
};
use serde_json::Value;

/// One security-layer message of a transcript.
struct LayerMsg {
    c2s: bool,
    plain: Vec<u8>,
    wire: Vec<u8>,
}

/// A transcript, decoded.
struct Transcript {
    authcid: String,
    password: String,
    authzid: Option<String>,
    realm: Option<String>,
    service: String,
    host: String,
    serv_name: Option<String>,
    roles: (bool, bool),
    challenge: Vec<u8>,
    response: Vec<u8>,
    rspauth: Vec<u8>,
    /// (client token, server answer) pairs of reauthentications.
    reauth: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    client_nonce: Vec<u8>,
    server_nonce: Vec<u8>,
    qop: Qop,
    cipher: Option<Cipher>,
    layer: Vec<LayerMsg>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn b64(v: &Value) -> Result<Vec<u8>, String> {
    B64.decode(v.as_str().ok_or("token is not a string")?)
        .map_err(|e| format!("bad base64: {e}"))
}

fn load(path: &Path) -> Result<Transcript, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("bad JSON: {e}"))?;
    if v["format"] != "digest-md5-transcript/1" {
        return Err("not a digest-md5-transcript/1 file".into());
    }
    let cfg = &v["config"];
    let mut first = Vec::new();
    let mut reauth: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for t in v["exchange"].as_array().ok_or("no exchange")? {
        let from_server = t["from"] == "server";
        let bytes = b64(&t["b64"])?;
        if t.get("reauth").and_then(Value::as_bool).unwrap_or(false) {
            if from_server {
                // Further server tokens (a stale challenge's follow-up) are not replayed.
                if let Some((_, ans @ None)) = reauth.last_mut() {
                    *ans = Some(bytes);
                }
            } else if !bytes.is_empty() && reauth.last().map_or(true, |(_, a)| a.is_some()) {
                reauth.push((bytes, None));
            }
        } else {
            first.push((from_server, bytes));
        }
    }
    let mut it = first.into_iter();
    let challenge = match it.next() {
        Some((true, b)) => b,
        _ => return Err("the first token is not the server's challenge".into()),
    };
    let response = match it.next() {
        Some((false, b)) => b,
        _ => return Err("the second token is not the client's response".into()),
    };
    let rspauth = match it.next() {
        Some((true, b)) => b,
        _ => return Err("no server token after the response".into()),
    };
    let neg = &v["negotiated"];
    let qop =
        Qop::from_token(neg["qop"].as_str().unwrap_or("auth")).ok_or("unknown negotiated qop")?;
    let cipher = match neg.get("cipher").and_then(Value::as_str) {
        Some(c) => Some(Cipher::from_token(c).ok_or("unknown negotiated cipher")?),
        None => None,
    };
    let mut layer = Vec::new();
    for m in v
        .get("layer")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        layer.push(LayerMsg {
            c2s: m["dir"] == "c2s",
            plain: b64(&m["plain_b64"])?,
            wire: b64(&m["wire_b64"])?,
        });
    }
    let side = s(&v, "side_recorded").unwrap_or_else(|| "both".into());
    Ok(Transcript {
        authcid: s(cfg, "authcid").ok_or("no authcid")?,
        password: s(cfg, "password").ok_or("no password")?,
        authzid: s(cfg, "authzid"),
        realm: s(cfg, "realm"),
        service: s(cfg, "service").ok_or("no service")?,
        host: s(cfg, "host").ok_or("no host")?,
        serv_name: s(cfg, "serv_name"),
        roles: (side != "server", side != "client"),
        challenge,
        response,
        rspauth,
        reauth,
        client_nonce: s(&v, "client_nonce").ok_or("no client_nonce")?.into_bytes(),
        server_nonce: s(&v, "server_nonce").ok_or("no server_nonce")?.into_bytes(),
        qop,
        cipher,
        layer,
    })
}

fn target(t: &Transcript) -> Result<Target, String> {
    let tg = Target::new(&t.service, &t.host).map_err(|e| e.to_string())?;
    match &t.serv_name {
        Some(n) => tg.with_serv_name(n).map_err(|e| e.to_string()),
        None => Ok(tg),
    }
}

fn client_context(t: &Transcript, recorded: &Response) -> Result<ClientContext, String> {
    let req = match t.qop {
        Qop::Auth => Requirements::NONE,
        Qop::AuthInt => Requirements::INTEGRITY,
        Qop::AuthConf => Requirements::CONFIDENTIALITY,
    };
    let mut cfg = ClientConfig::new(&t.authcid, Credential::password(&t.password), target(t)?)
        .requirements(req)
        .max_qop(t.qop)
        .maxbuf(recorded.maxbuf)
        .danger_fixed_cnonce(t.client_nonce.clone());
    if let Some(c) = t.cipher {
        cfg = cfg.ciphers(&[c]);
    }
    let realm = t.realm.clone();
    cfg = cfg.realm_chooser(move |_| realm.clone());
    if let Some(z) = recorded.authzid.clone() {
        cfg = cfg.authzid(t.authzid.clone().unwrap_or(z));
    }
    ClientContext::new(cfg).map_err(|e| e.to_string())
}

fn same_response(ours: &Response, rec: &Response) -> Result<(), String> {
    let realm = |r: &Response| r.realm.clone().unwrap_or_default();
    let checks: [(&str, bool); 11] = [
        ("username", ours.username == rec.username),
        ("realm", realm(ours) == realm(rec)),
        ("nonce", ours.nonce == rec.nonce),
        ("cnonce", ours.cnonce == rec.cnonce),
        ("nc", ours.nc == rec.nc),
        ("qop", ours.qop == rec.qop),
        ("digest-uri", ours.digest_uri == rec.digest_uri),
        (
            "response",
            ours.response.eq_ignore_ascii_case(&rec.response),
        ),
        ("maxbuf", ours.maxbuf == rec.maxbuf),
        ("cipher", ours.cipher == rec.cipher),
        ("authzid", ours.authzid == rec.authzid),
    ];
    match checks.iter().find(|(_, ok)| !ok) {
        Some((name, _)) => Err(format!("client response differs in `{name}`")),
        None => Ok(()),
    }
}

fn cont(s: Step) -> Result<Vec<u8>, String> {
    match s {
        Step::Continue(t) => Ok(t),
        other => Err(format!("expected a token to send, got {other:?}")),
    }
}

/// Runs the client role up to an established context.
fn client_established(t: &Transcript, rec: &Response) -> Result<ClientContext, String> {
    let mut c = client_context(t, rec)?;
    let ours = cont(
        c.step(Some(&t.challenge))
            .map_err(|e| format!("client refused the challenge: {e}"))?,
    )?;
    let ours =
        Response::parse(&ours).map_err(|e| format!("our own response does not parse: {e}"))?;
    same_response(&ours, rec)?;
    match c.step(Some(&t.rspauth)) {
        Ok(Step::Complete(_)) => Ok(c),
        Ok(other) => Err(format!("client did not complete on rspauth: {other:?}")),
        Err(e) => Err(format!("client rejected the recorded rspauth: {e}")),
    }
}

fn server_context(t: &Transcript) -> Result<ServerContext, String> {
    let offered = Challenge::parse(&t.challenge)
        .map_err(|e| format!("recorded challenge does not parse: {e}"))?;
    let mut cfg = ServerConfig::new(&t.service, &t.host)
        .realms(offered.realms.clone())
        .qops(offered.qops)
        .maxbuf(offered.maxbuf)
        .utf8(offered.utf8)
        .danger_fixed_nonce(t.server_nonce.clone());
    if offered.qops.contains(Qop::AuthConf) {
        cfg = cfg.ciphers(offered.ciphers);
    }
    let (user, pw) = (t.authcid.clone(), t.password.clone());
    let store = move |u: &str, _r: &str| (u == user).then(|| StoredSecret::password(pw.clone()));
    let mut srv = ServerContext::new(cfg, store).map_err(|e| e.to_string())?;
    cont(srv.step(None).map_err(|e| e.to_string())?)?;
    Ok(srv)
}

fn server_established(t: &Transcript) -> Result<ServerContext, String> {
    let mut srv = server_context(t)?;
    match srv.step(Some(&t.response)) {
        Ok(Step::Complete(Some(rsp))) => {
            let ours = parse_rspauth(&rsp).map_err(|e| e.to_string())?;
            let rec = parse_rspauth(&t.rspauth).map_err(|e| format!("recorded rspauth: {e}"))?;
            if !ours.eq_ignore_ascii_case(&rec) {
                return Err("server rspauth differs from the recorded one".into());
            }
            Ok(srv)
        }
        Ok(other) => Err(format!("server did not complete: {other:?}")),
        Err(e) => Err(format!("server rejected the recorded response: {e}")),
    }
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[bit / 8] ^= 1 << (bit % 8);
    b
}

/// Checks the layer messages of one direction: `seal` those we send, `unseal` those we
/// receive.
fn check_layer(
    sealer: &mut sasl_digest_md5::layer::Sealer,
    unsealer: &mut sasl_digest_md5::layer::Unsealer,
    msgs: &[LayerMsg],
    we_send_c2s: bool,
) -> Result<(), String> {
    let mut out = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        out.clear();
        if m.c2s == we_send_c2s {
            sealer
                .seal(&m.plain, &mut out)
                .map_err(|e| format!("layer message {i}: seal failed: {e}"))?;
            if out != m.wire {
                return Err(format!(
                    "layer message {i}: sealing gives other bytes than recorded"
                ));
            }
        } else {
            unsealer
                .unseal(&m.wire, &mut out)
                .map_err(|e| format!("layer message {i}: unseal failed: {e}"))?;
            if out != m.plain {
                return Err(format!(
                    "layer message {i}: unsealing gives other plaintext than recorded"
                ));
            }
        }
    }
    Ok(())
}

/// Negative layer checks on the messages we receive: bit flips, replay, reorder.
fn layer_negatives(
    fresh: &dyn Fn() -> Result<sasl_digest_md5::layer::Unsealer, String>,
    received: &[&LayerMsg],
) -> Result<(), String> {
    let Some(first) = received.first() else {
        return Ok(());
    };
    let bits = first.wire.len() * 8;
    let mut out = Vec::new();
    for bit in [0, 7, bits / 2, bits - 80, bits - 49, bits - 1, bits - 17] {
        let mut u = fresh()?;
        if u.unseal(&flip(&first.wire, bit), &mut out).is_ok() {
            return Err(format!(
                "a flipped bit {bit} in a layer message was accepted"
            ));
        }
        if u.unseal(&first.wire, &mut out).is_ok() {
            return Err("an unsealer kept working after a failure".into());
        }
    }
    let mut u = fresh()?;
    u.unseal(&first.wire, &mut out).map_err(|e| e.to_string())?;
    if u.unseal(&first.wire, &mut out).is_ok() {
        return Err("a replayed layer message was accepted".into());
    }
    if let Some(second) = received.get(1) {
        let mut u = fresh()?;
        if u.unseal(&second.wire, &mut out).is_ok() {
            return Err("an out-of-order layer message was accepted".into());
        }
    }
    Ok(())
}

fn replay_client(t: &Transcript) -> Result<(), String> {
    let rec = Response::parse(&t.response)
        .map_err(|e| format!("recorded response does not parse: {e}"))?;
    let mut c = client_established(t, &rec)?;
    // Negative: a flipped bit in rspauth.
    let pos = t
        .rspauth
        .windows(8)
        .position(|w| w.eq_ignore_ascii_case(b"rspauth="))
        .ok_or("no rspauth")?
        + 8;
    let pos = pos + usize::from(t.rspauth.get(pos) == Some(&b'"'));
    let mut bad = client_context(t, &rec)?;
    bad.step(Some(&t.challenge)).map_err(|e| e.to_string())?;
    if bad.step(Some(&flip(&t.rspauth, pos * 8))).is_ok() {
        return Err("client accepted a tampered rspauth".into());
    }
    // The layer belongs to the last authentication: the client role can check it when
    // that one used the same keys (same cnonce).
    let same_keys = t.reauth.iter().all(|(tok, _)| {
        Response::parse(tok)
            .map(|r| r.cnonce == rec.cnonce)
            .unwrap_or(false)
    });
    if t.qop.has_layer() && same_keys {
        let (mut s, mut u) = c
            .security_layer()
            .map_err(|e| format!("no client layer: {e}"))?;
        check_layer(&mut s, &mut u, &t.layer, true)?;
        let received: Vec<&LayerMsg> = t.layer.iter().filter(|m| !m.c2s).collect();
        let fresh = || {
            let mut c = client_established(t, &rec)?;
            c.security_layer()
                .map(|(_, u)| u)
                .map_err(|e| e.to_string())
        };
        layer_negatives(&fresh, &received)?;
    }
    Ok(())
}

/// Returns a note to print after PASS (e.g. a refused reauthentication).
fn replay_server(t: &Transcript) -> Result<Option<&'static str>, String> {
    let mut srv = server_established(t)?;
    // Negative: a flipped bit in the response value.
    let pos = t
        .response
        .windows(9)
        .position(|w| w.eq_ignore_ascii_case(b"response="))
        .ok_or("no response=")?
        + 9;
    let pos = pos + usize::from(t.response.get(pos) == Some(&b'"'));
    let mut bad = server_context(t)?;
    if bad.step(Some(&flip(&t.response, pos * 8))).is_ok() {
        return Err("server accepted a tampered response".into());
    }
    for (tok, answer) in &t.reauth {
        match srv.step(Some(tok)) {
            Ok(Step::Complete(Some(rsp))) => {
                let rec = answer
                    .as_ref()
                    .ok_or("no recorded answer to the reauthentication")?;
                let (a, b) = (
                    parse_rspauth(&rsp).map_err(|e| e.to_string())?,
                    parse_rspauth(rec).map_err(|e| e.to_string())?,
                );
                if !a.eq_ignore_ascii_case(&b) {
                    return Err("reauthentication rspauth differs".into());
                }
            }
            Ok(Step::Continue(ch)) if Challenge::parse(&ch).map(|c| c.stale).unwrap_or(false) => {
                let r = Response::parse(tok).map_err(|e| e.to_string())?;
                let orig = Response::parse(&t.response).map_err(|e| e.to_string())?;
                if r.qop.has_layer() && r.cnonce == orig.cnonce {
                    return Ok(Some("reauth refused: stale"));
                }
                return Err("server refused a valid reauthentication".into());
            }
            Ok(other) => return Err(format!("unexpected reauthentication result {other:?}")),
            Err(e) => return Err(format!("server rejected the reauthentication: {e}")),
        }
    }
    if t.qop.has_layer() {
        let (mut s, mut u) = srv
            .security_layer()
            .map_err(|e| format!("no server layer: {e}"))?;
        check_layer(&mut s, &mut u, &t.layer, false)?;
        if t.reauth.is_empty() {
            let received: Vec<&LayerMsg> = t.layer.iter().filter(|m| m.c2s).collect();
            let fresh = || {
                server_established(t)?
                    .security_layer()
                    .map(|(_, u)| u)
                    .map_err(|e| e.to_string())
            };
            layer_negatives(&fresh, &received)?;
        }
    }
    Ok(None)
}

/// Replays one file in every role it allows.
pub fn replay_file(path: &Path) -> Result<Option<&'static str>, String> {
    let t = load(path)?;
    if t.roles.0 {
        replay_client(&t).map_err(|e| format!("client role: {e}"))?;
    }
    if t.roles.1 {
        return replay_server(&t).map_err(|e| format!("server role: {e}"));
    }
    Ok(None)
}

/// All `.json` files under the given files and directories, sorted.
pub fn collect(args: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        if p.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            for e in entries {
                walk(&e, out);
            }
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p.to_path_buf());
        }
    }
    let mut out = Vec::new();
    for a in args {
        if a.is_dir() {
            walk(a, &mut out);
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Replays every file and prints the report; returns (passed, failed).
pub fn run(files: &[PathBuf]) -> (usize, usize) {
    let (mut pass, mut fail) = (0, 0);
    for f in files {
        match replay_file(f) {
            Ok(None) => {
                pass += 1;
                println!("PASS {}", f.display());
            }
            Ok(Some(note)) => {
                pass += 1;
                println!("PASS {} ({note})", f.display());
            }
            Err(e) => {
                fail += 1;
                println!("FAIL {}: {e}", f.display());
            }
        }
    }
    println!("{pass} passed, {fail} failed");
    (pass, fail)
}

pub fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        eprintln!("usage: replay FILE_OR_DIR...");
        std::process::exit(2);
    }
    let (_, failed) = run(&collect(&args));
    std::process::exit(i32::from(failed > 0));
}
