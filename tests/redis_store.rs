//! The shared reauthentication store on a real `redis-server` (started by
//! `tests/servers/redis.sh` on 127.0.0.1, a free port, a throw-away directory): a
//! server farm of two nodes, each with its own `RedisReauthStore` (own connections),
//! as two hosts behind a load balancer would have.
//!
//! `cargo test --features redis --test redis_store`. Fails (does not skip) when
//! redis-server is missing.
#![cfg(feature = "redis")]

mod common;
#[path = "common/rsasl.rs"]
mod sessions;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::servers::{Kind, Server};
use sasl_digest_md5::redis_store::RedisReauthStore;
use sasl_digest_md5::wire::Challenge;
use sasl_digest_md5::wire::Response;
use sasl_digest_md5::{
    Cipher, CipherSet, ClientConfig, ClientContext, Credential, Qop, QopSet, ReauthAttempt,
    ReauthBinding, ReauthRefusal, ReauthStore, Requirements, ServerConfig, ServerContext, Step,
    StoredSecret, Target,
};

const PREFIX: &str = "test-farm:";

fn users(user: &str, _realm: &str) -> Option<StoredSecret> {
    (user == "alice").then(|| StoredSecret::password("secret"))
}

/// A node's store on `redis`.
fn node_store(redis: &Server) -> RedisReauthStore {
    RedisReauthStore::open(&format!("redis://{}/", redis.addr()))
        .expect("url")
        .prefix(PREFIX)
        .timeout(Duration::from_millis(300))
}

fn config(store: &Arc<RedisReauthStore>) -> ServerConfig {
    ServerConfig::new("ldap", "ldap.example.com")
        .realms(["example.com"])
        .qops(QopSet::ALL)
        .ciphers(CipherSet::ALL)
        .reauth_cache(Arc::clone(store))
}

fn node(store: &Arc<RedisReauthStore>) -> ServerContext {
    ServerContext::new(config(store), users).unwrap()
}

fn client() -> ClientConfig {
    ClientConfig::new(
        "alice",
        Credential::password("secret"),
        Target::new("ldap", "ldap.example.com").unwrap(),
    )
}

fn cont(s: Step) -> Vec<u8> {
    match s {
        Step::Continue(t) => t,
        other => panic!("expected Continue, got {other:?}"),
    }
}

fn rspauth(s: Step) -> Vec<u8> {
    match s {
        Step::Complete(Some(t)) => t,
        other => panic!("expected Complete with rspauth, got {other:?}"),
    }
}

fn is_stale(tok: &[u8]) -> bool {
    Challenge::parse(tok).map(|c| c.stale).unwrap_or(false)
}

/// A full authentication of `c` on `server`.
fn first_auth(c: &mut ClientContext, server: &mut ServerContext) {
    let challenge = cont(server.step(None).unwrap());
    let response = cont(c.step(Some(&challenge)).unwrap());
    let ok = rspauth(server.step(Some(&response)).unwrap());
    assert_eq!(c.step(Some(&ok)).unwrap(), Step::Complete(None));
}

/// `c` (established) reauthenticates on a new connection to `server`: Ok(nc) when
/// accepted, Err(stale challenge) when refused.
fn reauth(c: &mut ClientContext, server: &mut ServerContext) -> Result<u32, Vec<u8>> {
    let tok = cont(c.step(None).unwrap());
    match server.step(Some(&tok)).unwrap() {
        Step::Complete(Some(ok)) => {
            assert_eq!(c.step(Some(&ok)).unwrap(), Step::Complete(None));
            assert_eq!(server.negotiated().unwrap().nc, c.negotiated().unwrap().nc);
            Ok(c.negotiated().unwrap().nc)
        }
        Step::Continue(challenge) => {
            assert!(is_stale(&challenge), "refusal is not a stale challenge");
            Err(challenge)
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// After a stale challenge from `server`: the client authenticates in full there.
fn finish_after_stale(c: &mut ClientContext, server: &mut ServerContext, stale: &[u8]) {
    let response = cont(c.step(Some(stale)).unwrap());
    assert_eq!(Response::parse(&response).unwrap().nc, 1);
    let ok = rspauth(server.step(Some(&response)).unwrap());
    assert_eq!(c.step(Some(&ok)).unwrap(), Step::Complete(None));
    assert_eq!(c.negotiated().unwrap().nc, 1);
}

/// Every field and value under the prefix, through a plain connection.
fn dump(redis: &Server) -> Vec<(String, Vec<(String, String)>)> {
    let client = redis::Client::open(format!("redis://{}/", redis.addr())).unwrap();
    let mut con = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{PREFIX}*"))
        .query(&mut con)
        .unwrap();
    keys.into_iter()
        .map(|k| {
            let fields: Vec<(String, String)> = match redis::cmd("TYPE")
                .arg(&k)
                .query::<String>(&mut con)
                .unwrap()
                .as_str()
            {
                "hash" => redis::cmd("HGETALL").arg(&k).query(&mut con).unwrap(),
                _ => vec![(
                    String::new(),
                    redis::cmd("GET").arg(&k).query(&mut con).unwrap(),
                )],
            };
            (k, fields)
        })
        .collect()
}

#[test]
fn reauthentication_on_another_node_then_nc3_on_the_first() {
    let redis = Server::start(Kind::Redis);
    let (a, b) = (Arc::new(node_store(&redis)), Arc::new(node_store(&redis)));
    let mut c = ClientContext::new(client().requirements(Requirements::CONFIDENTIALITY)).unwrap();
    first_auth(&mut c, &mut node(&a));
    assert_eq!(reauth(&mut c, &mut node(&b)), Ok(2), "nc=2 on node B");
    assert_eq!(reauth(&mut c, &mut node(&a)), Ok(3), "nc=3 on node A");
    assert_eq!(reauth(&mut c, &mut node(&b)), Ok(4), "nc=4 on node B");

    // What Redis holds: the binding, nc, cnonce fingerprints; nothing secret.
    let keys = dump(&redis);
    assert_eq!(keys.len(), 1, "one hash, no reservation left: {keys:?}");
    let (key, fields) = &keys[0];
    assert!(
        key.starts_with("test-farm:{") && key.ends_with('}'),
        "{key}"
    );
    let get = |f: &str| fields.iter().find(|(k, _)| k == f).map(|(_, v)| v.as_str());
    assert_eq!(get("user"), Some("alice"));
    assert_eq!(get("realm"), Some("example.com"));
    assert_eq!(get("authzid"), None);
    assert_eq!(get("uri"), Some("ldap/ldap.example.com"));
    assert_eq!(get("nc"), Some("4"));
    assert_eq!(get("prot"), Some("auth-conf/rc4"));
    let cnonces = fields.iter().filter(|(k, _)| k.starts_with("c:")).count();
    assert_eq!(cnonces, 4, "one fingerprint per authentication");
    assert_eq!(fields.len(), 5 + 4, "{fields:?}");
    assert!(fields.iter().all(|(_, v)| !v.contains("secret")));
    assert_eq!((a.failures(), b.failures()), (0, 0));

    // A service with another prefix on the same Redis shares nothing.
    let other = Arc::new(node_store(&redis).prefix("other-service:"));
    assert!(reauth(&mut c, &mut node(&other)).is_err());
}

#[test]
fn the_same_response_at_two_nodes_at_once_is_accepted_once() {
    let redis = Server::start(Kind::Redis);
    let (a, b) = (Arc::new(node_store(&redis)), Arc::new(node_store(&redis)));
    // A slow user store: verification takes 150 ms after the reservation.
    let slow = |user: &str, realm: &str| {
        thread::sleep(Duration::from_millis(150));
        users(user, realm)
    };
    for round in 0..10 {
        // Without a layer (only the nonce-count guards) and with one (the cnonce too).
        let req = [Requirements::NONE, Requirements::INTEGRITY][round % 2];
        let mut c = ClientContext::new(client().requirements(req)).unwrap();
        first_auth(&mut c, &mut node(&a));
        let tok = cont(c.step(None).unwrap());
        let barrier = Arc::new(Barrier::new(2));
        let answers: Vec<Step> = [&a, &b]
            .map(|store| {
                let (cfg, tok, barrier) = (config(store), tok.clone(), Arc::clone(&barrier));
                thread::spawn(move || {
                    let mut s = ServerContext::new(cfg, slow).unwrap();
                    barrier.wait();
                    s.step(Some(&tok)).unwrap()
                })
            })
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let accepted = answers
            .iter()
            .filter(|s| matches!(s, Step::Complete(Some(_))))
            .count();
        let stale = answers
            .iter()
            .filter(|s| matches!(s, Step::Continue(t) if is_stale(t)))
            .count();
        assert_eq!((accepted, stale), (1, 1), "round {round}: {answers:?}");
        // And later, on either node, it is a replay.
        let mut s = node(&b);
        assert!(is_stale(&cont(s.step(Some(&tok)).unwrap())));
    }
}

#[test]
fn a_repeated_cnonce_under_a_layer_is_refused_across_nodes() {
    let redis = Server::start(Kind::Redis);
    let (a, b) = (Arc::new(node_store(&redis)), Arc::new(node_store(&redis)));
    // A Cyrus-style client: the same cnonce on reauthentication.
    let mut c = ClientContext::new(
        client()
            .requirements(Requirements::INTEGRITY)
            .danger_fixed_cnonce("same"),
    )
    .unwrap();
    first_auth(&mut c, &mut node(&a));
    let mut on_b = node(&b);
    let stale = reauth(&mut c, &mut on_b).expect_err("repeated cnonce under auth-int");
    finish_after_stale(&mut c, &mut on_b, &stale);

    // Without a layer, the same cnonce is accepted on the other node.
    let mut c = ClientContext::new(client().danger_fixed_cnonce("same")).unwrap();
    first_auth(&mut c, &mut node(&a));
    assert_eq!(reauth(&mut c, &mut node(&b)), Ok(2));
    // Once a cnonce was used at nc=2 without a layer, the layer check still sees it.
    let nonce = Response::parse(&cont(c.step(None).unwrap())).unwrap().nonce;
    let binding = ReauthBinding {
        username: "alice".into(),
        realm: Some("example.com".into()),
        authzid: None,
        digest_uri: "ldap/ldap.example.com".into(),
        qop: Qop::Auth,
        cipher: None,
    };
    let attempt = ReauthAttempt {
        binding: &binding,
        nc: 3,
        cnonce: b"same",
        layer: true,
    };
    assert_eq!(
        a.reserve(&nonce, &attempt),
        Err(ReauthRefusal::RepeatedCnonce)
    );
}

#[test]
fn store_protocol_on_redis() {
    let redis = Server::start(Kind::Redis);
    let a = node_store(&redis).in_flight_ttl(Duration::from_millis(400));
    let b = node_store(&redis).max_nonce_count(4);
    let binding = ReauthBinding {
        username: "alice".into(),
        realm: None,
        authzid: None,
        digest_uri: "ldap/h".into(),
        qop: Qop::AuthConf,
        cipher: Some(Cipher::Rc4),
    };
    let at = |nc, cnonce| ReauthAttempt {
        binding: &binding,
        nc,
        cnonce,
        layer: true,
    };
    a.record(b"n", binding.clone(), b"c1");
    // Reserved on A: B is refused while it is in flight.
    assert_eq!(a.reserve(b"n", &at(2, b"c2")), Ok(()));
    assert_eq!(b.reserve(b"n", &at(2, b"c2")), Err(ReauthRefusal::InFlight));
    // Released (a forged proof): the genuine client can still use nc=2, with c2.
    a.release(b"n", 2);
    assert_eq!(b.reserve(b"n", &at(2, b"c2")), Ok(()));
    b.commit(b"n", 2, b"c2");
    assert_eq!(
        a.reserve(b"n", &at(2, b"c3")),
        Err(ReauthRefusal::WrongNonceCount {
            expected: 3,
            got: 2
        })
    );
    for old in [&b"c1"[..], b"c2"] {
        assert_eq!(
            a.reserve(b"n", &at(3, old)),
            Err(ReauthRefusal::RepeatedCnonce)
        );
    }
    // realm None and Some("") differ; so does an authzid.
    for other in [
        ReauthBinding {
            realm: Some(String::new()),
            ..binding.clone()
        },
        ReauthBinding {
            authzid: Some("root".into()),
            ..binding.clone()
        },
        ReauthBinding {
            username: "mallory".into(),
            ..binding.clone()
        },
        // The cipher is not covered by the digest: bound to the first authentication.
        ReauthBinding {
            cipher: Some(Cipher::Rc4_40),
            ..binding.clone()
        },
        ReauthBinding {
            qop: Qop::AuthInt,
            cipher: None,
            ..binding.clone()
        },
    ] {
        let att = ReauthAttempt {
            binding: &other,
            ..at(3, b"c3")
        };
        assert_eq!(a.reserve(b"n", &att), Err(ReauthRefusal::BindingMismatch));
    }
    assert_eq!(
        a.reserve(b"unknown", &at(2, b"c2")),
        Err(ReauthRefusal::UnknownNonce)
    );
    // A node that dies mid-verification (no commit, no release) blocks the nonce only
    // until the in-flight marker expires; the nonce-count stays used up.
    assert_eq!(a.reserve(b"n", &at(3, b"c3")), Ok(()));
    assert_eq!(b.reserve(b"n", &at(4, b"c4")), Err(ReauthRefusal::InFlight));
    thread::sleep(Duration::from_millis(600));
    assert_eq!(
        b.reserve(b"n", &at(3, b"c3x")),
        Err(ReauthRefusal::WrongNonceCount {
            expected: 4,
            got: 3
        })
    );
    assert_eq!(b.reserve(b"n", &at(4, b"c4")), Ok(()));
    b.commit(b"n", 4, b"c4");
    // B's limit is nc=4.
    assert_eq!(
        b.reserve(b"n", &at(5, b"c5")),
        Err(ReauthRefusal::Exhausted)
    );
    // A late release of an old reservation changes nothing.
    a.release(b"n", 3);
    assert_eq!(
        b.reserve(b"n", &at(5, b"c5")),
        Err(ReauthRefusal::Exhausted)
    );
    assert_eq!((a.failures(), b.failures()), (0, 0));
}

#[test]
fn redis_stopped_falls_back_to_full_authentication_and_recovers_after_restart() {
    let mut redis = Server::start(Kind::Redis);
    let (a, b) = (Arc::new(node_store(&redis)), Arc::new(node_store(&redis)));
    let mut c = ClientContext::new(client().requirements(Requirements::CONFIDENTIALITY)).unwrap();
    first_auth(&mut c, &mut node(&a));
    assert_eq!(reauth(&mut c, &mut node(&b)), Ok(2));

    redis.stop();
    // Reauthentication on B: a fresh stale=true challenge, within the timeout, then a
    // full authentication that succeeds (its nonce cannot be recorded).
    let mut on_b = node(&b);
    let t = Instant::now();
    let stale = reauth(&mut c, &mut on_b).expect_err("accepted without Redis");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    finish_after_stale(&mut c, &mut on_b, &stale);
    assert!(
        b.failures() >= 2,
        "reserve and record failed: {}",
        b.failures()
    );
    // The same on A.
    let mut on_a = node(&a);
    let stale = reauth(&mut c, &mut on_a).expect_err("accepted without Redis");
    finish_after_stale(&mut c, &mut on_a, &stale);

    // Restarted without persistence, Redis has lost every nonce: one full
    // authentication, then reauthentication across nodes works again.
    redis.restart();
    let mut on_a = node(&a);
    let stale = reauth(&mut c, &mut on_a).expect_err("nonce unknown after restart");
    finish_after_stale(&mut c, &mut on_a, &stale);
    let before = (a.failures(), b.failures());
    assert_eq!(reauth(&mut c, &mut node(&b)), Ok(2));
    assert_eq!(reauth(&mut c, &mut node(&a)), Ok(3));
    assert_eq!((a.failures(), b.failures()), before);

    // Restarted between two calls: the nodes' pooled connections are dead; the next
    // call replaces its connection and succeeds.
    redis.stop();
    redis.restart();
    let mut c = ClientContext::new(client()).unwrap();
    first_auth(&mut c, &mut node(&a));
    assert_eq!(reauth(&mut c, &mut node(&b)), Ok(2));
    assert_eq!((a.failures(), b.failures()), before);
}

#[test]
fn a_slow_redis_is_bounded_by_the_timeout() {
    let redis = Server::start(Kind::Redis);
    let (a, b) = (Arc::new(node_store(&redis)), Arc::new(node_store(&redis)));
    let mut c = ClientContext::new(client().requirements(Requirements::INTEGRITY)).unwrap();
    first_auth(&mut c, &mut node(&a));
    // Redis stops answering for 1.5 s.
    let admin = redis::Client::open(format!("redis://{}/", redis.addr())).unwrap();
    let mut admin = admin.get_connection().unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query(&mut admin)
        .unwrap();
    let mut on_b = node(&b);
    let t = Instant::now();
    let stale = reauth(&mut c, &mut on_b).expect_err("accepted without an answer");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(1000),
        "300 ms timeout, waited {waited:?}"
    );
    finish_after_stale(&mut c, &mut on_b, &stale);
    thread::sleep(Duration::from_millis(1600));
    // Answering again: a fresh first authentication, then reauthentication on A.
    let mut c = ClientContext::new(client().requirements(Requirements::INTEGRITY)).unwrap();
    first_auth(&mut c, &mut node(&b));
    assert_eq!(reauth(&mut c, &mut node(&a)), Ok(2));
}

#[test]
fn an_expired_nonce_gets_stale() {
    let redis = Server::start(Kind::Redis);
    let short = |r: &Server| Arc::new(node_store(r).ttl(Duration::from_millis(1000)));
    let (a, b) = (short(&redis), short(&redis));
    let mut c = ClientContext::new(client()).unwrap();
    first_auth(&mut c, &mut node(&a));
    assert_eq!(reauth(&mut c, &mut node(&b)), Ok(2));
    assert_eq!(dump(&redis).len(), 1);
    thread::sleep(Duration::from_millis(1500));
    assert!(dump(&redis).is_empty(), "Redis expired the entry");
    let mut on_a = node(&a);
    let stale = reauth(&mut c, &mut on_a).expect_err("expired nonce accepted");
    finish_after_stale(&mut c, &mut on_a, &stale);
    assert_eq!((a.failures(), b.failures()), (0, 0));
}

/// The rsasl server side: `ServerPolicy::reauth_cache` takes the Redis store too.
mod through_rsasl {
    use super::*;
    use rsasl::prelude::*;
    use sasl_digest_md5::mechanism::ServerPolicy;
    use sasl_digest_md5::ReauthStore;
    use sessions::{server_session, Authenticated, ServerCb};

    fn session(store: &Arc<RedisReauthStore>) -> Session<Authenticated> {
        let policy = ServerPolicy {
            realms: vec!["example.com".into()],
            qops: QopSet::ALL,
            reauth_cache: Some(Arc::clone(store) as Arc<dyn ReauthStore>),
            ..ServerPolicy::default()
        };
        server_session(ServerCb::new(policy, |user| {
            (user == "alice").then_some("secret")
        }))
    }

    #[test]
    fn reauthentication_across_rsasl_server_sessions() {
        let redis = Server::start(Kind::Redis);
        let (a, b) = (Arc::new(node_store(&redis)), Arc::new(node_store(&redis)));
        let mut c = ClientContext::new(client().requirements(Requirements::INTEGRITY)).unwrap();
        let mut on_a = session(&a);
        let mut challenge = Vec::new();
        on_a.step(None, &mut challenge).unwrap();
        let response = cont(c.step(Some(&challenge)).unwrap());
        let mut ok = Vec::new();
        on_a.step(Some(&response), &mut ok).unwrap();
        assert_eq!(c.step(Some(&ok)).unwrap(), Step::Complete(None));

        // nc=2 on node B, through an rsasl session there.
        let tok = cont(c.step(None).unwrap());
        let mut on_b = session(&b);
        let mut ok = Vec::new();
        assert_eq!(
            on_b.step(Some(&tok), &mut ok).unwrap(),
            State::Finished(MessageSent::Yes)
        );
        let validated = on_b.validation().map(|(user, _)| user);
        assert_eq!(validated.as_deref(), Some("alice"));
        assert_eq!(c.step(Some(&ok)).unwrap(), Step::Complete(None));
        assert_eq!(c.negotiated().unwrap().nc, 2);
        // Replayed on node A: a stale challenge, not an acceptance.
        let mut again = session(&a);
        let mut stale = Vec::new();
        assert!(again.step(Some(&tok), &mut stale).unwrap().is_running());
        assert!(is_stale(&stale));
        assert!(again.validation().is_none());
    }
}
