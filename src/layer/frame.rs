//! RFC 4422 §3.7 framing: a 4-octet big-endian length, then the wire message.

use std::fmt;

use zeroize::Zeroize;

use super::{check_maxbuf, LayerError, LENGTH_PREFIX_LEN, MIN_WIRE_LEN};

/// What [`FrameDecoder::peek`] found at the start of a contiguous buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// The buffer does not yet hold a whole frame. `frame_len` is the length of the
    /// whole frame (prefix included) once the prefix has been read, so a reader can
    /// size its next read.
    NeedMore {
        /// Total frame length (4 + wire length), if the prefix is complete.
        frame_len: Option<usize>,
    },
    /// `input[..frame_len]` is one whole frame; the wire message to pass to
    /// [`Unsealer::unseal`](super::Unsealer::unseal) is `input[4..frame_len]`.
    Frame {
        /// Total frame length (4 + wire length).
        frame_len: usize,
    },
}

/// Validates a length prefix value against `max` (our maxbuf) and the 16-byte minimum.
fn check_len(max: u32, prefix: [u8; 4]) -> Result<usize, LayerError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max as usize {
        return Err(LayerError::FrameTooLarge {
            len,
            max: max as usize,
        });
    }
    if len < MIN_WIRE_LEN {
        return Err(LayerError::FrameTooShort {
            len,
            min: MIN_WIRE_LEN,
        });
    }
    Ok(len)
}

/// [`FrameDecoder::peek`] for a receiver whose maxbuf is `max`.
pub(crate) fn peek(max: u32, input: &[u8]) -> Result<Peek, LayerError> {
    let Some(prefix) = input.get(..LENGTH_PREFIX_LEN) else {
        return Ok(Peek::NeedMore { frame_len: None });
    };
    let wire_len = check_len(max, [prefix[0], prefix[1], prefix[2], prefix[3]])?;
    let frame_len = LENGTH_PREFIX_LEN + wire_len;
    if input.len() >= frame_len {
        Ok(Peek::Frame { frame_len })
    } else {
        Ok(Peek::NeedMore {
            frame_len: Some(frame_len),
        })
    }
}

/// Incremental decoder of length-prefixed security-layer frames.
///
/// It can be used two ways, neither allocating per frame:
///
/// * **Peek** ([`peek`](FrameDecoder::peek)) on a buffer the caller owns, without
///   state: suits rsasl's `decode`, which must return the number of bytes consumed or
///   `InputDataRequired` while a frame is incomplete, and stream adapters that keep
///   their own read buffer (unseal the frame in place with
///   [`Unsealer::unseal_in_place`](super::Unsealer::unseal_in_place), then drop it
///   from the buffer).
/// * **Push** ([`feed`](FrameDecoder::feed)) arbitrary chunks; the decoder copies them
///   into one internal buffer that is reused for every frame (it only grows when a
///   frame larger than any before arrives, and never past our `maxbuf`).
///
/// The buffer is wiped when the next frame starts, on [`reset`](FrameDecoder::reset)
/// and on drop, since a frame unsealed in place leaves its plaintext there.
///
/// In both ways the announced length is checked against our `maxbuf` (and the
/// 16-byte minimum) as soon as the 4 prefix octets are known, before anything is
/// allocated. After an error, `feed` keeps returning [`LayerError::Poisoned`].
///
/// # Example
/// ```
/// use sasl_digest_md5::{layer, Qop, Side};
/// let ha1 = [9; 16];
/// let (mut tx, _) = layer::establish(&ha1, Qop::AuthInt, None, Side::Client, 4096, 4096)?;
/// let (_, mut rx) = layer::establish(&ha1, Qop::AuthInt, None, Side::Server, 4096, 4096)?;
/// let mut stream = Vec::new();
/// tx.seal_frame(b"one", &mut stream)?;
/// tx.seal_frame(b"two", &mut stream)?;
///
/// let mut dec = layer::FrameDecoder::new(4096)?;
/// let mut got = Vec::new();
/// // Feed the byte stream in 5-byte chunks.
/// for mut chunk in stream.chunks(5) {
///     while !chunk.is_empty() {
///         let (used, frame) = dec.feed(chunk)?;
///         chunk = &chunk[used..];
///         if let Some(frame) = frame {
///             let n = rx.unseal_in_place(frame)?;
///             got.push(frame[..n].to_vec());
///         }
///     }
/// }
/// assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
/// # Ok::<(), layer::LayerError>(())
/// ```
pub struct FrameDecoder {
    max: u32,
    header: [u8; 4],
    header_len: usize,
    wire_len: usize,
    buf: Vec<u8>,
    delivered: bool,
    failed: bool,
}

impl fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("max", &self.max)
            .field("header_len", &self.header_len)
            .field("wire_len", &self.wire_len)
            .field("buffered", &self.buf.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Drop for FrameDecoder {
    fn drop(&mut self) {
        // The whole capacity: a frame unsealed in place leaves plaintext behind.
        self.buf.zeroize();
    }
}

impl FrameDecoder {
    /// A decoder accepting wire messages of at most `own_maxbuf` bytes (the `maxbuf`
    /// we advertised; the 4-octet prefix is not counted).
    ///
    /// # Errors
    /// [`LayerError::OwnMaxBufOutOfRange`] unless `17 <= own_maxbuf <= 16777215`.
    pub fn new(own_maxbuf: u32) -> Result<Self, LayerError> {
        check_maxbuf(own_maxbuf).map_err(|_| LayerError::OwnMaxBufOutOfRange(own_maxbuf))?;
        Ok(FrameDecoder {
            max: own_maxbuf,
            header: [0; 4],
            header_len: 0,
            wire_len: 0,
            buf: Vec::new(),
            delivered: false,
            failed: false,
        })
    }

    /// The largest wire message accepted.
    pub fn max_wire_len(&self) -> usize {
        self.max as usize
    }

    /// Validates a length prefix value.
    fn check_len(&self, prefix: [u8; 4]) -> Result<usize, LayerError> {
        check_len(self.max, prefix)
    }

    /// Looks at the start of `input` (a contiguous buffer owned by the caller) without
    /// changing any state: is a whole frame there?
    ///
    /// # Errors
    /// [`LayerError::FrameTooLarge`] / [`LayerError::FrameTooShort`] as soon as the
    /// prefix announces a length above our `maxbuf` or below 16.
    pub fn peek(&self, input: &[u8]) -> Result<Peek, LayerError> {
        peek(self.max, input)
    }

    /// Feeds a chunk of the byte stream. Returns how many bytes of `chunk` were
    /// consumed and, when a frame became complete, the wire message (without prefix)
    /// in the decoder's buffer, ready for
    /// [`Unsealer::unseal_in_place`](super::Unsealer::unseal_in_place).
    ///
    /// Consumption stops at the end of a frame: call again with the rest of the chunk.
    /// A returned frame stays valid until the next call.
    ///
    /// # Errors
    /// [`LayerError::FrameTooLarge`] / [`LayerError::FrameTooShort`] for a bad length
    /// prefix (before any allocation); afterwards [`LayerError::Poisoned`].
    pub fn feed<'a>(
        &'a mut self,
        chunk: &[u8],
    ) -> Result<(usize, Option<&'a mut [u8]>), LayerError> {
        if self.failed {
            return Err(LayerError::Poisoned);
        }
        if self.delivered {
            // The caller may have unsealed the frame in place: wipe the plaintext.
            self.delivered = false;
            self.header_len = 0;
            self.buf.as_mut_slice().zeroize();
            self.buf.clear();
        }
        let mut used = 0;
        if self.header_len < LENGTH_PREFIX_LEN {
            let take = (LENGTH_PREFIX_LEN - self.header_len).min(chunk.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&chunk[..take]);
            self.header_len += take;
            used += take;
            if self.header_len < LENGTH_PREFIX_LEN {
                return Ok((used, None));
            }
            match self.check_len(self.header) {
                Ok(len) => self.wire_len = len,
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
            self.buf.clear();
        }
        let take = (self.wire_len - self.buf.len()).min(chunk.len() - used);
        self.buf.extend_from_slice(&chunk[used..used + take]);
        used += take;
        if self.buf.len() == self.wire_len {
            self.delivered = true;
            Ok((used, Some(&mut self.buf[..])))
        } else {
            Ok((used, None))
        }
    }

    /// Whether part of a frame has been fed but not yet completed (an end of stream
    /// now means a truncated frame).
    pub fn is_mid_frame(&self) -> bool {
        !self.delivered && self.header_len > 0
    }

    /// Drops any partial frame and clears the error state.
    pub fn reset(&mut self) {
        self.header_len = 0;
        self.wire_len = 0;
        self.buf.as_mut_slice().zeroize();
        self.buf.clear();
        self.delivered = false;
        self.failed = false;
    }
}
