//! Checks the security layer against `tests/vectors/layer.json`, produced by the
//! independent generator `tools/vectors/gen_layer_vectors.py` (hashlib, hmac,
//! pycryptodome).

use sasl_digest_md5::layer;
use sasl_digest_md5::{Cipher, Qop, Side};
use serde_json::Value;

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/layer.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("json")
}

#[test]
fn wire_bytes_match_independent_generator() {
    let doc = load();
    let ha1: [u8; 16] = unhex(doc["ha1"].as_str().unwrap()).try_into().unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 24,
        "expected every qop/cipher x direction x start"
    );
    let mut checked_frames = 0;
    for case in cases {
        let qop = Qop::from_token(case["qop"].as_str().unwrap()).unwrap();
        let cipher = case["cipher"]
            .as_str()
            .map(|c| Cipher::from_token(c).unwrap());
        let (sender_side, receiver_side) = match case["direction"].as_str().unwrap() {
            "client-to-server" => (Side::Client, Side::Server),
            "server-to-client" => (Side::Server, Side::Client),
            other => panic!("direction {other}"),
        };
        let start = u32::try_from(case["start_seq"].as_u64().unwrap()).unwrap();
        let msgs: Vec<Vec<u8>> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| unhex(m.as_str().unwrap()))
            .collect();
        let wires: Vec<Vec<u8>> = case["wire"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| unhex(m.as_str().unwrap()))
            .collect();
        let label = format!("{qop} {cipher:?} {sender_side:?}->peer start {start}");

        let (mut tx, _) = layer::establish(&ha1, qop, cipher, sender_side, 65536, 65536).unwrap();
        tx.set_sequence_number_for_testing(start);
        for (i, (m, w)) in msgs.iter().zip(&wires).enumerate() {
            let mut out = Vec::new();
            tx.seal(m, &mut out).unwrap();
            assert_eq!(out, *w, "{label}: message {i}");
            checked_frames += 1;
        }

        let (_, mut rx) = layer::establish(&ha1, qop, cipher, receiver_side, 65536, 65536).unwrap();
        rx.set_sequence_number_for_testing(start);
        for (i, (m, w)) in msgs.iter().zip(&wires).enumerate() {
            let mut out = Vec::new();
            rx.unseal(w, &mut out)
                .unwrap_or_else(|e| panic!("{label}: unseal {i}: {e}"));
            assert_eq!(out, *m, "{label}: message {i}");
        }
        match start.checked_add(msgs.len() as u32) {
            Some(next) => assert_eq!(rx.sequence_number(), next, "{label}"),
            None => {
                // The run ended on 2^32 - 1: no wrap, both halves are exhausted.
                assert!(tx.is_exhausted() && rx.is_exhausted(), "{label}");
                assert_eq!(
                    tx.seal(b"more", &mut Vec::new()),
                    Err(layer::LayerError::SequenceExhausted)
                );
            }
        }
    }
    assert!(checked_frames > 100);
}
