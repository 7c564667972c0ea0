//! The tokio secure stream on top of this crate's own contexts: both directions at
//! once from separate tasks through split halves, large writes split at the peer's
//! maxbuf.

use sasl_digest_md5::stream::SecureStream;
use sasl_digest_md5::{
    Cipher, CipherSet, ClientConfig, ClientContext, Credential, Qop, QopSet, Requirements,
    ServerConfig, ServerContext, Step, StoredSecret, Target,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn contexts(cipher: Option<Cipher>, client_maxbuf: u32) -> (ClientContext, ServerContext) {
    let req = if cipher.is_some() {
        Requirements::CONFIDENTIALITY
    } else {
        Requirements::INTEGRITY
    };
    let cfg = ClientConfig::new(
        "alice",
        Credential::password("secret"),
        Target::new("ldap", "h").unwrap(),
    )
    .requirements(req)
    .ciphers(&cipher.map_or(Cipher::ALL.to_vec(), |c| vec![c]))
    .maxbuf(client_maxbuf);
    let mut c = ClientContext::new(cfg).unwrap();
    let scfg = ServerConfig::new("ldap", "h")
        .qops(QopSet::ALL)
        .ciphers(CipherSet::ALL)
        .maxbuf(4096);
    let mut s = ServerContext::new(scfg, |_: &str, _: &str| {
        Some(StoredSecret::password("secret"))
    })
    .unwrap();
    let Step::Continue(ch) = s.step(None).unwrap() else {
        panic!()
    };
    let Step::Continue(r) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    let Step::Complete(Some(rsp)) = s.step(Some(&r)).unwrap() else {
        panic!()
    };
    c.step(Some(&rsp)).unwrap();
    (c, s)
}

async fn both_ways_at_once(cipher: Option<Cipher>) {
    let (mut c, mut s) = contexts(cipher, 1000);
    assert_eq!(
        c.negotiated().unwrap().qop,
        if cipher.is_some() {
            Qop::AuthConf
        } else {
            Qop::AuthInt
        }
    );
    let (ctx, crx) = c.security_layer().unwrap();
    let (stx, srx) = s.security_layer().unwrap();
    let (a, b) = tokio::io::duplex(1 << 16);
    let client = SecureStream::new(a, ctx, crx);
    let server = SecureStream::new(b, stx, srx);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up: Vec<u8> = (0..300_000u32).map(|i| (i * 13) as u8).collect();
    let down: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + 1) as u8).collect();
    let (u2, d2) = (up.clone(), down.clone());
    // Four tasks: each direction written and read concurrently.
    let w1 = tokio::spawn(async move {
        cw.write_all(&u2).await.unwrap();
        cw.shutdown().await.unwrap();
    });
    let w2 = tokio::spawn(async move {
        sw.write_all(&d2).await.unwrap();
        sw.shutdown().await.unwrap();
    });
    let r1 = tokio::spawn(async move {
        let mut v = Vec::new();
        sr.read_to_end(&mut v).await.unwrap();
        v
    });
    let r2 = tokio::spawn(async move {
        let mut v = Vec::new();
        cr.read_to_end(&mut v).await.unwrap();
        v
    });
    w1.await.unwrap();
    w2.await.unwrap();
    assert_eq!(r1.await.unwrap(), up);
    assert_eq!(r2.await.unwrap(), down);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_carry_both_directions_concurrently() {
    both_ways_at_once(None).await;
    both_ways_at_once(Some(Cipher::Rc4)).await;
    both_ways_at_once(Some(Cipher::TripleDes)).await;
}
