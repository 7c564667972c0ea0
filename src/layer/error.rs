//! The one error type of the security layer.

use crate::Qop;

/// Everything that can go wrong while establishing, sealing, unsealing or framing.
///
/// Errors returned by [`Unsealer`](super::Unsealer) are fatal for that half: after the
/// first one, every later call returns [`LayerError::Poisoned`]. The connection should
/// be closed. [`LayerError::MessageTooLarge`] from a [`Sealer`](super::Sealer) leaves it
/// usable: nothing was written and no sequence number was consumed.
/// [`LayerError::SequenceExhausted`] (either half) is final: the session must
/// reauthenticate to get fresh keys.
///
/// Padding errors and MAC errors are deliberately the same variant,
/// [`LayerError::IntegrityCheckFailed`], so that no padding oracle is exposed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// [`establish`](super::establish) was asked for a qop without a security layer
    /// (`auth`).
    #[error("qop {0} has no security layer")]
    NoSecurityLayer(Qop),

    /// qop `auth-conf` was requested without a cipher.
    #[error("qop auth-conf requires a cipher")]
    CipherRequired,

    /// A cipher was given for qop `auth-int`, which does not encrypt.
    #[error("qop auth-int takes no cipher")]
    UnexpectedCipher,

    /// The peer's `maxbuf` is outside `17..=16777215`, or so small that not even one
    /// byte of plaintext fits in a frame (see the module docs on `maxbuf`).
    #[error("peer maxbuf {0} is out of range or too small for this qop")]
    PeerMaxBufOutOfRange(u32),

    /// Our own `maxbuf` is outside `17..=16777215`.
    #[error("own maxbuf {0} is out of range (17..=16777215)")]
    OwnMaxBufOutOfRange(u32),

    /// A message to seal is longer than [`Sealer::max_plaintext_len`](super::Sealer::max_plaintext_len).
    #[error("message of {len} bytes exceeds the largest sealable message ({max} bytes)")]
    MessageTooLarge {
        /// Length of the message.
        len: usize,
        /// Largest message that fits the peer's `maxbuf`.
        max: usize,
    },

    /// A received security-layer message (without the 4-octet length prefix) is
    /// shorter than the 16 bytes of the smallest valid message.
    #[error("security layer message of {len} bytes is shorter than the minimum of {min}")]
    FrameTooShort {
        /// Length of the received message (or the value of the length prefix).
        len: usize,
        /// The smallest acceptable length.
        min: usize,
    },

    /// A received security-layer message (or its announced length) exceeds our own
    /// `maxbuf`.
    #[error("security layer message of {len} bytes exceeds our maxbuf of {max}")]
    FrameTooLarge {
        /// Length of the received message (or the value of the length prefix).
        len: usize,
        /// Our own advertised `maxbuf`.
        max: usize,
    },

    /// With a DES cipher, the encrypted part (message length minus 6) is not a
    /// multiple of the 8-byte block size.
    #[error("encrypted part of {len} bytes is not a multiple of the DES block size")]
    NotBlockAligned {
        /// Length of the encrypted part.
        len: usize,
    },

    /// The 2-byte message type is not `0x0001`.
    #[error("wrong security layer message type {0:#06x} (expected 0x0001)")]
    WrongMessageType(u16),

    /// The sequence number is not the one expected next: a replayed, reordered or
    /// missing message.
    #[error("sequence number {got} received, {expected} expected (replay, reorder or loss)")]
    SequenceMismatch {
        /// The sequence number expected next.
        expected: u32,
        /// The sequence number carried by the message.
        got: u32,
    },

    /// The MAC did not verify, or (auth-conf with DES) the padding was malformed.
    /// The two causes are indistinguishable on purpose.
    #[error("integrity check failed (bad MAC or padding)")]
    IntegrityCheckFailed,

    /// All 2^32 sequence numbers of this direction have been used (the last message
    /// carried 4294967295). Sealing or unsealing another message would reuse a
    /// sequence number, so a recorded message could be replayed; the session must
    /// reauthenticate (RFC 2831 §2.2) to get new keys. Nothing was written.
    #[error("sequence numbers exhausted after 2^32 messages: reauthenticate for new keys")]
    SequenceExhausted,

    /// An earlier call to this [`Unsealer`](super::Unsealer) failed; it refuses all
    /// further input.
    #[error("security layer is unusable after an earlier failure")]
    Poisoned,
}
