//! The security layer's primitives: MD5 (RFC 1321), HMAC-MD5 (RFC 2104), RC4, DES
//! and two-key triple DES in CBC mode (FIPS 46-3, FIPS 81), and the one-pass loops
//! that run a cipher inside the MAC's compression loop.
//!
//! One primitive per file: `md5` (constants, round functions, compression, the
//! wiping streaming hasher), `hmac` (keyed states, plain MACs), `rc4`, `des`
//! (tables, key schedule, rounds, CBC) and `stitched` (MAC + RC4 and MAC + CBC in
//! one pass). The rest of the layer reaches them through `backend`, which with the
//! `rustcrypto` feature switches to the RustCrypto crates instead.
//!
//! Hidden and not part of the crate's API: public only so that
//! `examples/throughput.rs` can measure the bare primitives.

#![cfg_attr(feature = "rustcrypto", allow(dead_code))]

pub mod des;
pub mod hmac;
pub(crate) mod md5;
pub mod rc4;
#[cfg(feature = "rustcrypto")]
mod rustcrypto;
pub(crate) mod stitched;

/// Which way a message goes through a one-pass loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Sealing: the buffer holds plaintext; the MAC is computed before the cipher
    /// runs over each byte.
    Seal,
    /// Unsealing: the buffer holds ciphertext; the cipher runs over each byte before
    /// the MAC reads it.
    Open,
}

/// The security layer's MAC: the first 10 bytes of the HMAC-MD5 output (RFC 2831
/// §2.3).
#[inline(always)]
pub(crate) fn truncate_mac(full: &[u8; 16]) -> [u8; 10] {
    let mut out = [0u8; 10];
    out.copy_from_slice(&full[..10]);
    out
}

/// What the rest of the layer (and the handshake's MD5) uses: this module's own
/// primitives, or with the `rustcrypto` feature the RustCrypto crates (one
/// interface, two implementations).
pub(crate) mod backend {
    pub(crate) use super::des::Cbc;
    #[cfg(feature = "rustcrypto")]
    pub(crate) use super::rustcrypto::{DesCbc, HmacMd5, Md5, Rc4, TripleDesCbc};
    #[cfg(not(feature = "rustcrypto"))]
    pub(crate) use super::{
        des::{DesCbc, TripleDesCbc},
        hmac::HmacMd5,
        md5::Md5,
        rc4::Rc4,
    };
}
