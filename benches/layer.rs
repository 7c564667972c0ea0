//! `cargo bench`: seal + unseal per qop/cipher/size, and a full client + server
//! authentication. For the side-by-side comparison with Cyrus SASL run
//! `cargo run --release --example throughput` instead.

#[path = "../tests/layer_common/mod.rs"]
mod layer_common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use layer_common::{pipe_with, Pipe, CONFIGS};
use sasl_digest_md5::{
    Cipher, CipherSet, ClientConfig, ClientContext, Credential, QopSet, ServerConfig,
    ServerContext, Side, Step, StoredSecret, Target,
};
use std::time::Duration;

const MAXBUF: u32 = 131072;

fn seal_unseal(c: &mut Criterion) {
    let mut g = c.benchmark_group("seal_unseal");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20);
    for (qop, cipher) in CONFIGS {
        let name = cipher.map_or("auth-int", Cipher::as_str);
        for size in [64usize, 1024, 16384, 65536] {
            let ha1 = [0x42; 16];
            let Pipe { mut tx, mut rx } = pipe_with(&ha1, qop, cipher, Side::Client, MAXBUF);
            let msg: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut wire = Vec::with_capacity(size + 64);
            let mut plain = Vec::with_capacity(size + 64);
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    wire.clear();
                    plain.clear();
                    tx.seal(&msg, &mut wire).unwrap();
                    rx.unseal(&wire, &mut plain).unwrap();
                })
            });
        }
    }
    g.finish();
}

fn store(user: &str, _realm: &str) -> Option<StoredSecret> {
    (user == "alice").then(|| StoredSecret::password("secret"))
}

fn authentication(c: &mut Criterion) {
    let mut g = c.benchmark_group("authentication");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    g.bench_function("client+server", |b| {
        b.iter(|| {
            let mut client = ClientContext::new(ClientConfig::new(
                "alice",
                Credential::password("secret"),
                Target::new("imap", "bench.example.com").unwrap(),
            ))
            .unwrap();
            let mut server = ServerContext::new(
                ServerConfig::new("imap", "bench.example.com")
                    .qops(QopSet::ALL)
                    .ciphers(CipherSet::ALL),
                store,
            )
            .unwrap();
            let Step::Continue(ch) = server.step(None).unwrap() else {
                panic!()
            };
            let Step::Continue(resp) = client.step(Some(&ch)).unwrap() else {
                panic!()
            };
            let Step::Complete(Some(rsp)) = server.step(Some(&resp)).unwrap() else {
                panic!()
            };
            assert_eq!(client.step(Some(&rsp)).unwrap(), Step::Complete(None));
            (client, server)
        })
    });
    g.finish();
}

criterion_group!(benches, seal_unseal, authentication);
criterion_main!(benches);
