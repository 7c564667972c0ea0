//! The receiving half.

use std::fmt;

use subtle::{ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater, ConstantTimeLess};
use zeroize::Zeroize;

use super::keys::{CipherState, MacKey};
use super::primitives::backend::Cbc;
use super::primitives::Pass;
use super::{LayerError, MAC_LEN, MIN_WIRE_LEN, TRAILER_LEN};
use crate::{Cipher, Qop};

/// The receiving half of an established security layer: verifies (and decrypts)
/// incoming messages.
///
/// Created by [`establish`](super::establish). Messages must be unsealed in the order
/// the peer sealed them; the sequence number is checked. The first failure of any
/// kind *poisons* the `Unsealer`: every later call returns
/// [`LayerError::Poisoned`], and the connection should be closed.
///
/// `Unsealer` is `Send` and `Sync`, independent of the [`Sealer`](super::Sealer).
/// Keys and cipher state are wiped on drop; `Debug` does not show them.
#[doc(alias = "VerifySignature")]
#[doc(alias = "DecryptMessage")]
#[doc(alias = "unwrap")]
#[doc(alias = "decode")]
pub struct Unsealer {
    pub(crate) qop: Qop,
    pub(crate) cipher: Option<Cipher>,
    pub(crate) mac: MacKey,
    pub(crate) dec: Option<CipherState>,
    pub(crate) seq: u32,
    /// The message with sequence number 2^32 - 1 has been accepted: no number is left.
    pub(crate) exhausted: bool,
    pub(crate) own_maxbuf: u32,
    pub(crate) poisoned: bool,
}

impl fmt::Debug for Unsealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unsealer")
            .field("qop", &self.qop)
            .field("cipher", &self.cipher)
            .field("seq", &self.seq)
            .field("exhausted", &self.exhausted)
            .field("own_maxbuf", &self.own_maxbuf)
            .field("poisoned", &self.poisoned)
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl Unsealer {
    /// The qop of this layer (`auth-int` or `auth-conf`).
    pub fn qop(&self) -> Qop {
        self.qop
    }

    /// The cipher of this layer (`None` for `auth-int`).
    pub fn cipher(&self) -> Option<Cipher> {
        self.cipher
    }

    /// The sequence number the next message must carry (4294967295 also once that
    /// last number has been used; see [`is_exhausted`](Unsealer::is_exhausted)).
    pub fn sequence_number(&self) -> u32 {
        self.seq
    }

    /// Whether the message with sequence number 2^32 - 1 has been accepted: every
    /// further message is refused with [`LayerError::SequenceExhausted`] and the
    /// session must reauthenticate.
    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    /// Our own `maxbuf`: the largest wire message (without length prefix) accepted.
    pub fn max_wire_len(&self) -> usize {
        self.own_maxbuf as usize
    }

    /// Whether an earlier failure has made this half unusable.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Verifies (and for `auth-conf` decrypts) one wire message (without the 4-octet
    /// length prefix) and appends the plaintext to `out`.
    ///
    /// Does not allocate when `out` has room for `wire.len()` more bytes (the
    /// ciphertext is decrypted in `out`'s spare room, then truncated to the
    /// plaintext).
    ///
    /// # Errors
    /// Any [`LayerError`] describing a malformed, forged, replayed or reordered
    /// message; `out` is left unchanged and the `Unsealer` becomes poisoned.
    ///
    /// # Example
    /// ```
    /// use sasl_digest_md5::{layer, Cipher, Qop, Side};
    /// let ha1 = [0x42; 16];
    /// let (mut c_tx, _c_rx) =
    ///     layer::establish(&ha1, Qop::AuthConf, Some(Cipher::Des), Side::Client, 8192, 8192)?;
    /// let (_s_tx, mut s_rx) =
    ///     layer::establish(&ha1, Qop::AuthConf, Some(Cipher::Des), Side::Server, 8192, 8192)?;
    /// let mut wire = Vec::new();
    /// c_tx.seal(b"secret", &mut wire)?;
    /// let mut plain = Vec::new();
    /// s_rx.unseal(&wire, &mut plain)?;
    /// assert_eq!(plain, b"secret");
    /// // The same message again is a replay:
    /// assert!(matches!(
    ///     s_rx.unseal(&wire, &mut plain),
    ///     Err(layer::LayerError::SequenceMismatch { expected: 1, got: 0 })
    /// ));
    /// # Ok::<(), layer::LayerError>(())
    /// ```
    #[doc(alias = "VerifySignature")]
    #[doc(alias = "DecryptMessage")]
    #[doc(alias = "unwrap")]
    pub fn unseal(&mut self, wire: &[u8], out: &mut Vec<u8>) -> Result<(), LayerError> {
        let body_len = match self.check_header(wire) {
            Ok(n) => n,
            Err(e) => return Err(self.poison(e)),
        };
        let start = out.len();
        let opened = if self.dec.is_none() {
            // auth-int: the message is copied into `out` while it is MACed
            let data_len = body_len - MAC_LEN;
            let expected = self.mac.mac10_append(self.seq, &wire[..data_len], out);
            let mac_ok = expected.ct_eq(&wire[data_len..body_len]);
            self.verdict(data_len, mac_ok)
        } else {
            out.extend_from_slice(&wire[..body_len]);
            self.open(&mut out[start..])
        };
        match opened {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out[start..].zeroize();
                out.truncate(start);
                Err(self.poison(e))
            }
        }
    }

    /// Verifies (and decrypts) the wire message in `buf` (without the length prefix)
    /// in place. On success the plaintext is `buf[..n]` and `n` is returned; never
    /// allocates.
    ///
    /// # Errors
    /// As [`unseal`](Unsealer::unseal). On error the part of `buf` that was
    /// decrypted is zeroed, so no unauthenticated plaintext is left behind.
    pub fn unseal_in_place(&mut self, buf: &mut [u8]) -> Result<usize, LayerError> {
        let body_len = match self.check_header(buf) {
            Ok(n) => n,
            Err(e) => return Err(self.poison(e)),
        };
        let body = &mut buf[..body_len];
        match self.open(body) {
            Ok(n) => Ok(n),
            Err(e) => {
                body.zeroize();
                Err(self.poison(e))
            }
        }
    }

    fn poison(&mut self, e: LayerError) -> LayerError {
        self.poisoned = true;
        e
    }

    /// Structural checks on the clear parts of a wire message. Returns the length of
    /// the protected body (everything before the 6-byte trailer).
    fn check_header(&self, wire: &[u8]) -> Result<usize, LayerError> {
        if self.poisoned {
            return Err(LayerError::Poisoned);
        }
        if self.exhausted {
            return Err(LayerError::SequenceExhausted);
        }
        let len = wire.len();
        if len > self.own_maxbuf as usize {
            return Err(LayerError::FrameTooLarge {
                len,
                max: self.own_maxbuf as usize,
            });
        }
        if len < MIN_WIRE_LEN {
            return Err(LayerError::FrameTooShort {
                len,
                min: MIN_WIRE_LEN,
            });
        }
        let body_len = len - TRAILER_LEN;
        if self.cipher.is_some_and(Cipher::is_block) && body_len % 8 != 0 {
            return Err(LayerError::NotBlockAligned { len: body_len });
        }
        let msg_type = u16::from_be_bytes([wire[body_len], wire[body_len + 1]]);
        if msg_type != 1 {
            return Err(LayerError::WrongMessageType(msg_type));
        }
        let got = u32::from_be_bytes([
            wire[body_len + 2],
            wire[body_len + 3],
            wire[body_len + 4],
            wire[body_len + 5],
        ]);
        if got != self.seq {
            return Err(LayerError::SequenceMismatch {
                expected: self.seq,
                got,
            });
        }
        Ok(body_len)
    }

    /// Decrypts (if needed) and verifies `body` (msg [|| pad] || MAC). Returns the
    /// plaintext length; the plaintext is `body[..n]`.
    fn open(&mut self, body: &mut [u8]) -> Result<usize, LayerError> {
        let seq = self.seq;
        let data_len = body.len() - MAC_LEN; // >= 6: body.len() >= 10 + 6
        let (msg_len, expected, pad_ok) = match &mut self.dec {
            None => (
                data_len,
                self.mac.mac10(seq, &body[..data_len]),
                subtle::Choice::from(1),
            ),
            Some(CipherState::Rc4(rc4)) => {
                // decryption and MAC in one pass
                let mac = self.mac.mac10_rc4(seq, rc4, body, data_len, Pass::Open);
                (data_len, mac, subtle::Choice::from(1))
            }
            Some(CipherState::Des(c)) => open_cbc(&self.mac, c, seq, body, data_len),
            Some(CipherState::TripleDes(c)) => open_cbc(&self.mac, c, seq, body, data_len),
        };
        let mac_ok = expected.ct_eq(&body[data_len..]);
        self.verdict(msg_len, pad_ok & mac_ok)
    }

    /// Consumes the sequence number and returns `msg_len` if the checks passed.
    #[inline]
    fn verdict(&mut self, msg_len: usize, ok: subtle::Choice) -> Result<usize, LayerError> {
        if bool::from(ok) {
            match self.seq.checked_add(1) {
                Some(next) => self.seq = next,
                None => self.exhausted = true,
            }
            Ok(msg_len)
        } else {
            Err(LayerError::IntegrityCheckFailed)
        }
    }

    /// Sets the sequence number the next message must carry (and clears the exhausted
    /// state). Only for replaying recorded transcripts and for tests (e.g. the end of
    /// the sequence space at 2^32 - 1); never use it on a live connection.
    #[doc(hidden)]
    pub fn set_sequence_number_for_testing(&mut self, seq: u32) {
        self.seq = seq;
        self.exhausted = false;
    }
}

/// DES/3DES: decrypts `body` (msg || pad || MAC) and computes the MAC of the
/// message. Decryption runs inside the MAC loop, ahead of the hash, over the bytes
/// that are message whatever the padding (all but the last 8 of `data_len`); the
/// rest is decrypted, the padding checked, and the MAC finished. The MAC is computed
/// whether or not the padding was valid, and both outcomes are folded into one
/// error by the caller.
#[inline(always)]
fn open_cbc<C: Cbc>(
    mac: &MacKey,
    c: &mut C,
    seq: u32,
    body: &mut [u8],
    data_len: usize,
) -> (usize, [u8; 10], subtle::Choice) {
    let hmac = mac.hmac();
    let progress = hmac.mac_cbc(seq, c, body, data_len.saturating_sub(8), Pass::Open);
    c.decrypt_blocks(&mut body[progress.ciphered..]);
    let (msg_len, pad_ok) = check_padding(&body[..data_len]);
    let expected = hmac.mac_cbc_finish(&progress, seq, &body[..msg_len]);
    (msg_len, expected, pad_ok)
}

/// Checks DES padding at the end of `data` (msg || pad) without branching on secret
/// bytes. Returns the message length to MAC (assuming a 1-byte pad when the padding
/// is invalid) and whether the padding was valid.
fn check_padding(data: &[u8]) -> (usize, subtle::Choice) {
    let len = data.len() as u32; // <= maxbuf < 2^24
    let pad_byte = data[data.len() - 1];
    let pad = u32::from(pad_byte);
    let mut ok = pad.ct_gt(&0) & !pad.ct_gt(&8) & !pad.ct_gt(&len);
    for (i, &b) in data.iter().rev().take(8).enumerate() {
        let in_pad = (i as u32).ct_lt(&pad);
        ok &= !in_pad | b.ct_eq(&pad_byte);
    }
    let eff_pad = u32::conditional_select(&1, &pad, ok);
    ((len - eff_pad) as usize, ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{establish, Sealer};
    use crate::Side;

    #[test]
    fn padding_rules() {
        let ok = |d: &[u8]| {
            let (n, c) = check_padding(d);
            bool::from(c).then_some(n)
        };
        assert_eq!(ok(&[9, 9, 9, 9, 9, 1]), Some(5));
        assert_eq!(ok(&[9, 9, 9, 9, 2, 2]), Some(4));
        assert_eq!(ok(&[6; 6]), Some(0));
        assert_eq!(ok(&[8; 14]), Some(6));
        assert_eq!(ok(&[0, 0, 0, 0, 0, 0]), None); // pad 0
        assert_eq!(ok(&[9; 14]), None); // pad > 8
        assert_eq!(ok(&[7; 6]), None); // pad longer than data
        assert_eq!(ok(&[1, 2, 3, 3, 4, 3]), None); // inconsistent pad bytes
        assert_eq!(ok(&[8, 8, 8, 8, 8, 8, 8, 7, 8]), None);
        assert_eq!(ok(&[0xff; 16]), None);
    }

    /// Builds a DES auth-conf message with a correct MAC and chosen padding, using the
    /// sender's real keys.
    fn forge(tx: &mut Sealer, msg: &[u8], pad: &[u8]) -> Vec<u8> {
        let mut body = msg.to_vec();
        body.extend_from_slice(pad);
        body.extend_from_slice(&tx.mac.mac10(tx.seq, msg));
        tx.enc.as_mut().unwrap().encrypt(&mut body);
        body.extend_from_slice(&[0, 1]);
        body.extend_from_slice(&tx.seq.to_be_bytes());
        tx.seq += 1;
        body
    }

    #[test]
    fn bad_padding_with_valid_mac_is_the_same_error_as_a_bad_mac() {
        for cipher in [Cipher::Des, Cipher::TripleDes] {
            let ha1 = [0x11; 16];
            let mk = || {
                let (tx, _) =
                    establish(&ha1, Qop::AuthConf, Some(cipher), Side::Client, 4096, 4096).unwrap();
                let (_, rx) =
                    establish(&ha1, Qop::AuthConf, Some(cipher), Side::Server, 4096, 4096).unwrap();
                (tx, rx)
            };
            // Sanity: correct padding forged by hand is accepted.
            let (mut tx, mut rx) = mk();
            let w = forge(&mut tx, b"hello", &[1]);
            let mut out = Vec::new();
            rx.unseal(&w, &mut out).unwrap();
            assert_eq!(out, b"hello");

            for (msg, pad) in [
                (&b"hello"[..], &[0u8][..]), // pad byte 0
                (b"hello", &[9]),            // 5+1+10 = 16 but pad byte 9
                (b"hel", &[2, 3, 3]),        // inconsistent
                (b"", &[5, 5, 5, 5, 5, 6]),  // last byte 6, others 5
                (b"ab", &[4, 4, 4, 4]),      // control: the canonical pad, accepted
            ] {
                let (mut tx, mut rx) = mk();
                let w = forge(&mut tx, msg, pad);
                let r = rx.unseal(&w, &mut out);
                if msg == b"ab" {
                    assert!(r.is_ok());
                    continue;
                }
                assert_eq!(r, Err(LayerError::IntegrityCheckFailed), "{cipher} {pad:?}");
                assert!(rx.is_poisoned());
            }
        }
    }
}
