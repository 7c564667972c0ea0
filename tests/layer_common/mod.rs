//! Helpers shared by the `layer_*` integration tests, `properties.rs`, `benches/layer.rs`
//! and the fuzz target `unseal` (the last two by `#[path]`).
#![allow(dead_code)]

use sasl_digest_md5::layer::{self, LayerError, Sealer, Unsealer};
use sasl_digest_md5::{Cipher, Qop, Side};

/// Every (qop, cipher) combination that installs a layer.
pub const CONFIGS: [(Qop, Option<Cipher>); 6] = [
    (Qop::AuthInt, None),
    (Qop::AuthConf, Some(Cipher::Rc4)),
    (Qop::AuthConf, Some(Cipher::Rc4_40)),
    (Qop::AuthConf, Some(Cipher::Rc4_56)),
    (Qop::AuthConf, Some(Cipher::Des)),
    (Qop::AuthConf, Some(Cipher::TripleDes)),
];

pub const HA1: [u8; 16] = [
    0x3a, 0x4f, 0x1c, 0x99, 0x02, 0xee, 0x71, 0x5b, 0xc0, 0x18, 0x6d, 0xa2, 0x47, 0xf3, 0x85, 0x10,
];

/// One direction: a sender on `from` and the matching receiver on the other side.
pub struct Pipe {
    pub tx: Sealer,
    pub rx: Unsealer,
}

pub fn other(side: Side) -> Side {
    match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

/// A sealer on `from` and the unsealer of the peer, with maxbufs `maxbuf` both ways.
pub fn pipe(qop: Qop, cipher: Option<Cipher>, from: Side, maxbuf: u32) -> Pipe {
    pipe_with(&HA1, qop, cipher, from, maxbuf)
}

/// [`pipe`] keyed by `ha1`.
pub fn pipe_with(
    ha1: &[u8; 16],
    qop: Qop,
    cipher: Option<Cipher>,
    from: Side,
    maxbuf: u32,
) -> Pipe {
    try_pipe_with(ha1, qop, cipher, from, maxbuf).unwrap()
}

/// [`pipe_with`], with `establish`'s error for parameters it refuses (a bad maxbuf).
pub fn try_pipe_with(
    ha1: &[u8; 16],
    qop: Qop,
    cipher: Option<Cipher>,
    from: Side,
    maxbuf: u32,
) -> Result<Pipe, LayerError> {
    let (tx, _) = layer::establish(ha1, qop, cipher, from, maxbuf, maxbuf)?;
    let (_, rx) = layer::establish(ha1, qop, cipher, other(from), maxbuf, maxbuf)?;
    Ok(Pipe { tx, rx })
}

/// Deterministic message bytes.
pub fn msg(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(salt))
        .collect()
}
