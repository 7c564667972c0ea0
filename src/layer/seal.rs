//! The sending half.

use std::fmt;

use super::keys::{CipherState, MacKey};
use super::primitives::backend::Cbc;
use super::primitives::Pass;
use super::{LayerError, FRAME_OVERHEAD, LENGTH_PREFIX_LEN, MAC_LEN};
use crate::{Cipher, Qop};

/// The sending half of an established security layer: protects outgoing messages.
///
/// Created by [`establish`](super::establish). Each call to [`seal`](Sealer::seal)
/// consumes one sequence number; messages must be delivered to the peer in the order
/// they were sealed. `Sealer` is `Send` and `Sync` and independent of the
/// [`Unsealer`](super::Unsealer), so sending and receiving may run on different tasks.
///
/// Keys and cipher state are wiped when the value is dropped; `Debug` does not show
/// them.
#[doc(alias = "MakeSignature")]
#[doc(alias = "EncryptMessage")]
#[doc(alias = "wrap")]
#[doc(alias = "encode")]
pub struct Sealer {
    pub(crate) qop: Qop,
    pub(crate) cipher: Option<Cipher>,
    pub(crate) mac: MacKey,
    pub(crate) enc: Option<CipherState>,
    pub(crate) seq: u32,
    /// The message with sequence number 2^32 - 1 has been sealed: no number is left.
    pub(crate) exhausted: bool,
    pub(crate) max_plaintext: usize,
    pub(crate) peer_maxbuf: u32,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("qop", &self.qop)
            .field("cipher", &self.cipher)
            .field("seq", &self.seq)
            .field("exhausted", &self.exhausted)
            .field("peer_maxbuf", &self.peer_maxbuf)
            .field("max_plaintext_len", &self.max_plaintext)
            .field("keys", &"<redacted>")
            .finish()
    }
}

/// Length of the wire message for a plaintext of `msg_len` bytes.
#[inline]
pub(crate) fn sealed_len_for(cipher: Option<Cipher>, msg_len: usize) -> usize {
    match cipher {
        Some(c) if c.is_block() => msg_len + pad_len(msg_len) + FRAME_OVERHEAD,
        _ => msg_len + FRAME_OVERHEAD,
    }
}

/// DES padding: 1..=8 bytes so that msg + pad + MAC is a multiple of 8.
#[inline]
fn pad_len(msg_len: usize) -> usize {
    8 - (msg_len + MAC_LEN) % 8
}

/// Largest plaintext whose wire message fits in `wire_limit` bytes, if any.
pub(crate) fn max_plaintext_for(cipher: Option<Cipher>, wire_limit: usize) -> Option<usize> {
    match cipher {
        Some(c) if c.is_block() => {
            // msg + pad + 10 is the smallest multiple of 8 that is >= msg + 11, and
            // must not exceed wire_limit - 6.
            let enc_max = wire_limit.checked_sub(6)? / 8 * 8;
            enc_max.checked_sub(MAC_LEN + 1)
        }
        _ => wire_limit.checked_sub(FRAME_OVERHEAD),
    }
}

/// DES/3DES: appends `msg || pad || MAC`, encrypted. The encryption of the message
/// runs inside the MAC loop, trailing the hash (both are serial chains that an
/// out-of-order core overlaps); the rest is encrypted once the MAC is known.
#[inline(always)]
fn seal_cbc<C: Cbc>(mac: &MacKey, c: &mut C, seq: u32, msg: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(msg);
    let hmac = mac.hmac();
    let progress = hmac.mac_cbc(seq, c, &mut out[start..], msg.len(), Pass::Seal);
    let mac = hmac.mac_cbc_finish(&progress, seq, msg);
    let pad = pad_len(msg.len());
    out.resize(out.len() + pad, pad as u8);
    out.extend_from_slice(&mac);
    c.encrypt_blocks(&mut out[start + progress.ciphered..]);
}

impl Sealer {
    /// The qop of this layer (`auth-int` or `auth-conf`).
    pub fn qop(&self) -> Qop {
        self.qop
    }

    /// The cipher of this layer (`None` for `auth-int`).
    pub fn cipher(&self) -> Option<Cipher> {
        self.cipher
    }

    /// The sequence number the next sealed message will carry (4294967295 also once
    /// that last number has been used; see [`is_exhausted`](Sealer::is_exhausted)).
    pub fn sequence_number(&self) -> u32 {
        self.seq
    }

    /// Whether all 2^32 sequence numbers have been used: every further
    /// [`seal`](Sealer::seal) returns [`LayerError::SequenceExhausted`] and the session
    /// must reauthenticate.
    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    /// The largest message [`seal`](Sealer::seal) accepts: the wire message it
    /// produces (without the 4-octet length prefix) fits the peer's `maxbuf`, as
    /// Cyrus SASL's client and the JDK count it.
    ///
    /// This is exact for the qop and cipher (it accounts for the actual DES padding).
    #[doc(alias = "maxoutbuf")]
    #[doc(alias = "cbMaximumMessage")]
    pub fn max_plaintext_len(&self) -> usize {
        self.max_plaintext
    }

    /// Length of the wire message (without length prefix) that sealing a message of
    /// `msg_len` bytes produces. Add 4 for [`seal_frame`](Sealer::seal_frame).
    pub fn sealed_len(&self, msg_len: usize) -> usize {
        sealed_len_for(self.cipher, msg_len)
    }

    #[inline]
    fn check_len(&self, len: usize) -> Result<(), LayerError> {
        if self.exhausted {
            return Err(LayerError::SequenceExhausted);
        }
        if len > self.max_plaintext {
            return Err(LayerError::MessageTooLarge {
                len,
                max: self.max_plaintext,
            });
        }
        Ok(())
    }

    /// Protects `msg` and appends the wire message (RFC 2831 §2.3/§2.4, *without* the
    /// RFC 4422 length prefix) to `out`.
    ///
    /// Does not allocate when `out` has room for [`sealed_len`](Sealer::sealed_len)
    /// more bytes.
    ///
    /// # Errors
    /// [`LayerError::MessageTooLarge`] if `msg` is longer than
    /// [`max_plaintext_len`](Sealer::max_plaintext_len); then nothing is written and
    /// the sequence number is not consumed. [`LayerError::SequenceExhausted`] once the
    /// message with sequence number 2^32 - 1 has been sealed (nothing is written; the
    /// session must reauthenticate).
    ///
    /// # Example
    /// ```
    /// use sasl_digest_md5::{layer, Qop, Side};
    /// let (mut tx, _rx) = layer::establish(&[7; 16], Qop::AuthInt, None, Side::Client, 65536, 65536)?;
    /// let mut wire = Vec::new();
    /// tx.seal(b"hello", &mut wire)?;
    /// assert_eq!(wire.len(), tx.sealed_len(5));
    /// assert_eq!(&wire[..5], b"hello"); // auth-int does not encrypt
    /// # Ok::<(), layer::LayerError>(())
    /// ```
    #[doc(alias = "MakeSignature")]
    #[doc(alias = "EncryptMessage")]
    #[doc(alias = "wrap")]
    pub fn seal(&mut self, msg: &[u8], out: &mut Vec<u8>) -> Result<(), LayerError> {
        self.check_len(msg.len())?;
        out.reserve(self.sealed_len(msg.len()));
        self.append_sealed(msg, out);
        Ok(())
    }

    /// Like [`seal`](Sealer::seal), but first appends the 4-octet big-endian length
    /// prefix, so `out` receives a complete RFC 4422 security-layer frame.
    ///
    /// # Errors
    /// As [`seal`](Sealer::seal).
    pub fn seal_frame(&mut self, msg: &[u8], out: &mut Vec<u8>) -> Result<(), LayerError> {
        self.check_len(msg.len())?;
        let wire_len = self.sealed_len(msg.len());
        out.reserve(LENGTH_PREFIX_LEN + wire_len);
        // wire_len <= peer maxbuf <= 2^24 - 1, so it fits in u32.
        out.extend_from_slice(&(wire_len as u32).to_be_bytes());
        self.append_sealed(msg, out);
        Ok(())
    }

    /// Seals in place: on entry `buf` holds the message, on return the wire message.
    ///
    /// Does not allocate when `buf` has capacity for
    /// [`sealed_len`](Sealer::sealed_len)`(buf.len())` bytes.
    ///
    /// # Errors
    /// As [`seal`](Sealer::seal); `buf` is left unchanged on error.
    pub fn seal_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), LayerError> {
        self.seal_in_place_at(buf, 0).map(|_| ())
    }

    /// Seals `buf[msg_start..]` in place, leaving `buf[..msg_start]` untouched (for
    /// example room reserved for a length prefix). Returns the length of the wire
    /// message, which now occupies `buf[msg_start..]`.
    ///
    /// # Panics
    /// If `msg_start > buf.len()`.
    ///
    /// # Errors
    /// As [`seal`](Sealer::seal); `buf` is left unchanged on error.
    ///
    /// # Example
    /// ```
    /// use sasl_digest_md5::{layer, Cipher, Qop, Side};
    /// let (mut tx, mut rx) =
    ///     layer::establish(&[1; 16], Qop::AuthConf, Some(Cipher::Rc4), Side::Server, 4096, 4096)?;
    /// let mut buf = vec![0u8; 4]; // length prefix placeholder
    /// buf.extend_from_slice(b"payload");
    /// let wire_len = tx.seal_in_place_at(&mut buf, 4)?;
    /// buf[..4].copy_from_slice(&(wire_len as u32).to_be_bytes());
    /// assert_eq!(buf.len(), 4 + wire_len);
    /// # let _ = rx;
    /// # Ok::<(), layer::LayerError>(())
    /// ```
    pub fn seal_in_place_at(
        &mut self,
        buf: &mut Vec<u8>,
        msg_start: usize,
    ) -> Result<usize, LayerError> {
        assert!(msg_start <= buf.len(), "msg_start beyond buffer");
        let msg_len = buf.len() - msg_start;
        self.check_len(msg_len)?;
        let wire_len = self.sealed_len(msg_len);
        buf.reserve(wire_len - msg_len);
        self.finish(buf, msg_start);
        Ok(wire_len)
    }

    /// Appends the wire message for `msg` to `out`. Capacity has been reserved by the
    /// caller. Without RC4 the message is copied into `out` while it is MACed (one
    /// pass over it instead of two).
    #[inline]
    fn append_sealed(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let seq = self.seq;
        match &mut self.enc {
            Some(CipherState::Rc4(_)) => {
                out.extend_from_slice(msg);
                return self.finish(out, start);
            }
            Some(CipherState::Des(c)) => seal_cbc(&self.mac, c, seq, msg, out),
            Some(CipherState::TripleDes(c)) => seal_cbc(&self.mac, c, seq, msg, out),
            None => {
                let mac = self.mac.mac10_append(seq, msg, out);
                out.extend_from_slice(&mac);
            }
        }
        self.push_trailer(out, seq);
    }

    #[inline]
    fn push_trailer(&mut self, out: &mut Vec<u8>, seq: u32) {
        out.extend_from_slice(&[0x00, 0x01]);
        out.extend_from_slice(&seq.to_be_bytes());
        match seq.checked_add(1) {
            Some(next) => self.seq = next,
            None => self.exhausted = true,
        }
    }

    /// `buf[start..]` holds the message; turns it into the wire message. Capacity has
    /// been reserved by the caller.
    #[inline]
    fn finish(&mut self, buf: &mut Vec<u8>, start: usize) {
        let seq = self.seq;
        let msg_len = buf.len() - start;
        if let Some(CipherState::Rc4(rc4)) = &mut self.enc {
            // MAC and encryption in one pass over the message
            let mut mac = self
                .mac
                .mac10_rc4(seq, rc4, &mut buf[start..], msg_len, Pass::Seal);
            rc4.apply_keystream(&mut mac);
            buf.extend_from_slice(&mac);
        } else if let Some(enc) = &mut self.enc {
            let mac = self.mac.mac10(seq, &buf[start..]);
            if matches!(enc, CipherState::Des { .. } | CipherState::TripleDes { .. }) {
                let pad = pad_len(msg_len);
                buf.resize(buf.len() + pad, pad as u8);
            }
            buf.extend_from_slice(&mac);
            enc.encrypt(&mut buf[start..]);
        } else {
            let mac = self.mac.mac10(seq, &buf[start..]);
            buf.extend_from_slice(&mac);
        }
        self.push_trailer(buf, seq);
    }

    /// Sets the sequence number of the next sealed message (and clears the exhausted
    /// state). Only for replaying recorded transcripts and for tests (e.g. the end of
    /// the sequence space at 2^32 - 1); never use it on a live connection.
    #[doc(hidden)]
    pub fn set_sequence_number_for_testing(&mut self, seq: u32) {
        self.seq = seq;
        self.exhausted = false;
    }
}
