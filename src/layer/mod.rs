//! The DIGEST-MD5 security layer (RFC 2831 §2.3 integrity, §2.4 confidentiality).
//!
//! Sans-IO: [`establish`] turns the session's H(A1) and the negotiated qop, cipher
//! and buffer sizes into a [`Sealer`] (send half) and an [`Unsealer`] (receive half).
//! They are independent values, so one task may send while another receives.
//! [`FrameDecoder`] splits a byte stream into RFC 4422 length-prefixed frames.
//!
//! # Wire format
//!
//! Per message, with `seq` the 4-byte big-endian sequence number of that direction
//! (starting at 0; after the message carrying 2^32 - 1 both halves refuse to go on with
//! [`LayerError::SequenceExhausted`] instead of wrapping to 0, which would let a
//! recorded message be replayed: the session must reauthenticate) and `MAC = HMAC-MD5(Ki, seq || msg)[..10]`:
//!
//! * `auth-int`: `msg || MAC || 0x0001 || seq`
//! * `auth-conf`: `CIPHER(msg || pad || MAC) || 0x0001 || seq`, where `pad` is 1 to 8
//!   bytes each equal to the pad length for `des`/`3des` (CBC, chained across
//!   messages) and empty for the RC4 ciphers (keystream continues across messages).
//!
//! [`Sealer::seal`] and [`Unsealer::unseal`] deal in these wire messages; the 4-octet
//! length prefix of RFC 4422 is added by [`Sealer::seal_frame`] and removed by
//! [`FrameDecoder`].
//!
//! # `maxbuf` semantics
//!
//! A `maxbuf` value is the size of the largest security-layer buffer the advertising
//! side can receive. Peers disagree on whether the 4-octet length prefix counts:
//!
//! * Cyrus SASL, when *receiving*, compares the length prefix value (prefix
//!   excluded) to its maxbuf; JDK's `SaslInputStream` does the same. RFC 4422 §3.7
//!   also speaks of the buffer without the prefix.
//! * Cyrus SASL's client and the JDK send wire messages of up to exactly the peer's
//!   maxbuf (prefix excluded): plaintext `maxbuf - 16` for `auth-int` (recorded in
//!   `fixtures/cyrus/auth-int.json` and `fixtures/jdk/auth-int-max-65536.json`), and
//!   both accept such messages. (Cyrus's *server* is more conservative and also
//!   subtracts the prefix.)
//!
//! This crate follows that common reading in both directions:
//!
//! * Sending: [`Sealer::max_plaintext_len`] is the largest message whose wire
//!   message (prefix excluded) fits in the peer's maxbuf, computed exactly from the
//!   real overhead (16 bytes, plus 1 to 8 bytes of DES padding): for maxbuf 65536,
//!   `auth-int` and RC4 65520, DES 65517.
//! * Receiving: a wire message (prefix *excluded*) of up to our own maxbuf bytes is
//!   accepted.
//!
//! Both maxbuf values must be in `17..=16777215` ([`MAXBUF_MIN_EXCLUSIVE`],
//! [`MAXBUF_MAX`]). A peer maxbuf so small that not even one byte of plaintext fits
//! (below 22 for the DES ciphers) is refused by [`establish`].
//!
//! # Example
//! ```
//! use sasl_digest_md5::{layer, Cipher, Qop, Side};
//!
//! // Both ends derived the same H(A1) during authentication.
//! let ha1: [u8; 16] = *b"0123456789abcdef";
//! let (mut client_tx, mut client_rx) =
//!     layer::establish(&ha1, Qop::AuthConf, Some(Cipher::TripleDes), Side::Client, 65536, 65536)?;
//! let (mut server_tx, mut server_rx) =
//!     layer::establish(&ha1, Qop::AuthConf, Some(Cipher::TripleDes), Side::Server, 65536, 65536)?;
//!
//! let mut wire = Vec::new();
//! let mut plain = Vec::new();
//! client_tx.seal(b"a001 LIST", &mut wire)?;
//! server_rx.unseal(&wire, &mut plain)?;
//! assert_eq!(plain, b"a001 LIST");
//!
//! wire.clear();
//! plain.clear();
//! server_tx.seal(b"* LIST ...", &mut wire)?;
//! client_rx.unseal(&wire, &mut plain)?;
//! assert_eq!(plain, b"* LIST ...");
//! # Ok::<(), layer::LayerError>(())
//! ```
//!
//! # Side channels
//!
//! MAC comparison is constant-time, and a padding error is reported as the same
//! [`LayerError::IntegrityCheckFailed`] as a MAC error, after computing the MAC
//! anyway. As in every MAC-then-pad-then-encrypt design (and in Cyrus and the JDK),
//! the HMAC input length depends on the pad length, a timing difference of at most
//! one MD5 block; since an [`Unsealer`] is poisoned by its first failure, an attacker
//! gets at most one such observation per session key.
//!
//! The ciphers themselves are not constant-time, as in Cyrus SASL (OpenSSL) and the
//! JDK:
//!
//! * **RC4** (`rc4`, `rc4-40`, `rc4-56`) indexes its 256-byte state with
//!   secret-dependent values on every byte: inherent to RC4, and a cache-timing leak
//!   of the keystream state to an attacker sharing the CPU (another process, an SMT
//!   sibling, a co-resident VM).
//! * **DES and 3DES** (`des`, `3des`) use eight 64-entry `u32` tables merging the
//!   S-boxes and the P permutation (2 KiB, 32 cache lines), indexed by bytes of
//!   `R XOR round key`: the same kind of cache-timing leak of key-dependent data as
//!   OpenSSL's tables, which Cyrus uses. A constant-time variant that keeps each
//!   S-box's 64 nibbles in four 64-bit registers and selects with masks (no
//!   secret-dependent memory access) was measured on the same machine and session
//!   with `examples/throughput.rs`: `des` 60.3 -> 15.0 MB/s, `3des` 24.2 -> 5.0 MB/s
//!   (64 KiB messages, seal + unseal), i.e. 4-5 times slower, so the table version is
//!   kept (a bitsliced DES cannot help CBC encryption, which is serial).
//!
//! Where a local attacker sharing the CPU is a concern, none of the RFC 2831 ciphers
//! is adequate: run the protocol inside TLS instead of relying on the security layer.
//!
//! # Key hygiene
//!
//! Derived keys are wiped as soon as the cipher and HMAC states are built; DES key
//! schedules (and the key word they are computed from), RC4 state, IVs and the
//! precomputed HMAC-MD5 inner and outer states are wiped on drop. The MD5 states that
//! absorb the password, the secret or H(A1) (this crate's own hasher, not the `md-5`
//! crate's) are wiped when finalized. Buffers that hold plaintext after a message has
//! been handed on (the [`FrameDecoder`]'s, the rsasl mechanism's scratch buffer, the
//! tokio stream's read buffer) are wiped before reuse (as long as the message, no
//! allocation) and in full on drop. What the caller's own buffers hold is the
//! caller's business.
//!
//! With the `rustcrypto` feature the MD5 and HMAC-MD5 states are the `md-5` and
//! `hmac` crates', which cannot be wiped (those crates have no `zeroize` support):
//! the hashers that absorb the password, the secret or H(A1), and the keyed HMAC
//! states, stay in memory after drop. DES key schedules and RC4 state are still
//! wiped (the `des` and `rc4` crates' `zeroize` features), as are the CBC chaining
//! values and the derived keys.
//!
//! # Performance
//!
//! MD5, HMAC-MD5, RC4 and DES are implemented in this module (`primitives`: one
//! primitive per file, checked against the RustCrypto crates and published vectors):
//! HMAC states are precomputed once, RC4 and CBC run inside the MD5 compression loop
//! (`primitives::stitched`), DES is table-driven. With the `rustcrypto` feature the
//! layer (and the handshake's MD5) runs on the RustCrypto crates `md-5`, `hmac`,
//! `rc4` and `des` instead, MAC and cipher in two passes: byte-identical output,
//! for users who want only widely reviewed primitives. See `docs/performance.md`.

mod error;
mod frame;
mod keys;
#[doc(hidden)]
pub mod primitives;
mod seal;
mod unseal;

pub use error::LayerError;
#[cfg(feature = "tokio")]
pub(crate) use frame::peek as peek_frame;
pub use frame::{FrameDecoder, Peek};
pub use seal::Sealer;
pub use unseal::Unsealer;

use crate::{Cipher, Qop, Side};
#[cfg(doc)]
use crate::{MAXBUF_MAX, MAXBUF_MIN_EXCLUSIVE};
use keys::{CipherState, Direction, MacKey};

/// Truncated HMAC length.
const MAC_LEN: usize = 10;
/// Message type (2) and sequence number (4), sent in clear.
const TRAILER_LEN: usize = 6;
/// Overhead without padding: MAC + trailer.
const FRAME_OVERHEAD: usize = MAC_LEN + TRAILER_LEN;
/// The smallest valid wire message (empty plaintext, no padding).
const MIN_WIRE_LEN: usize = FRAME_OVERHEAD;
/// RFC 4422 length prefix.
const LENGTH_PREFIX_LEN: usize = 4;

fn check_maxbuf(v: u32) -> Result<(), ()> {
    if crate::params::maxbuf_in_range(v) {
        Ok(())
    } else {
        Err(())
    }
}

/// Whether a layer with `cipher` can carry at least one byte of plaintext in a wire
/// message of `maxbuf` bytes (false only for DES and 3DES below 22), i.e. whether
/// [`establish`] would accept `maxbuf` from the peer.
pub(crate) fn carries_plaintext(cipher: Option<Cipher>, maxbuf: u32) -> bool {
    seal::max_plaintext_for(cipher, maxbuf as usize).is_some_and(|m| m >= 1)
}

/// Installs the security layer negotiated during authentication.
///
/// * `ha1`: the 16 raw bytes of H(A1) (not hex) of the authenticated session.
/// * `qop`: [`Qop::AuthInt`] or [`Qop::AuthConf`].
/// * `cipher`: required for `auth-conf`, must be `None` for `auth-int`.
/// * `side`: which end we are. A [`Side::Client`] seals with the client-to-server keys
///   (Kic, Kcc) and unseals with the server-to-client keys (Kis, Kcs); a server the
///   other way round.
/// * `peer_maxbuf`: the `maxbuf` the peer advertised (limits what we send).
/// * `own_maxbuf`: the `maxbuf` we advertised (limits what we accept).
///
/// See the [module docs](self) for how `maxbuf` is interpreted.
///
/// # Errors
/// [`LayerError::NoSecurityLayer`] for `auth`, [`LayerError::CipherRequired`],
/// [`LayerError::UnexpectedCipher`], [`LayerError::PeerMaxBufOutOfRange`],
/// [`LayerError::OwnMaxBufOutOfRange`].
///
/// # Example
/// ```
/// use sasl_digest_md5::{layer, Cipher, Qop, Side};
/// let ha1 = [0xA5; 16];
/// let (mut client_tx, _client_rx) =
///     layer::establish(&ha1, Qop::AuthConf, Some(Cipher::Rc4), Side::Client, 65536, 65536)?;
/// let (_server_tx, mut server_rx) =
///     layer::establish(&ha1, Qop::AuthConf, Some(Cipher::Rc4), Side::Server, 65536, 65536)?;
///
/// let mut wire = Vec::new();
/// client_tx.seal(b"hello", &mut wire)?;
/// let mut plain = Vec::new();
/// server_rx.unseal(&wire, &mut plain)?;
/// assert_eq!(plain, b"hello");
/// # Ok::<(), layer::LayerError>(())
/// ```
pub fn establish(
    ha1: &[u8; 16],
    qop: Qop,
    cipher: Option<Cipher>,
    side: Side,
    peer_maxbuf: u32,
    own_maxbuf: u32,
) -> Result<(Sealer, Unsealer), LayerError> {
    match (qop, cipher) {
        (Qop::Auth, _) => return Err(LayerError::NoSecurityLayer(qop)),
        (Qop::AuthConf, None) => return Err(LayerError::CipherRequired),
        (Qop::AuthInt, Some(_)) => return Err(LayerError::UnexpectedCipher),
        _ => {}
    }
    check_maxbuf(own_maxbuf).map_err(|_| LayerError::OwnMaxBufOutOfRange(own_maxbuf))?;
    check_maxbuf(peer_maxbuf).map_err(|_| LayerError::PeerMaxBufOutOfRange(peer_maxbuf))?;
    let max_plaintext = seal::max_plaintext_for(cipher, peer_maxbuf as usize)
        .filter(|&m| m >= 1)
        .ok_or(LayerError::PeerMaxBufOutOfRange(peer_maxbuf))?;

    let (send_dir, recv_dir) = match side {
        Side::Client => (Direction::ClientToServer, Direction::ServerToClient),
        Side::Server => (Direction::ServerToClient, Direction::ClientToServer),
    };
    let half = |dir| {
        let ki = keys::integrity_key(ha1, dir);
        let mac = MacKey::new(&ki);
        let state = cipher.map(|c| {
            let kc = keys::confidentiality_key(ha1, c, dir);
            CipherState::new(c, &kc)
        });
        (mac, state)
    };
    let (send_mac, enc) = half(send_dir);
    let (recv_mac, dec) = half(recv_dir);
    Ok((
        Sealer {
            qop,
            cipher,
            mac: send_mac,
            enc,
            seq: 0,
            exhausted: false,
            max_plaintext,
            peer_maxbuf,
        },
        Unsealer {
            qop,
            cipher,
            mac: recv_mac,
            dec,
            seq: 0,
            exhausted: false,
            own_maxbuf,
            poisoned: false,
        },
    ))
}
