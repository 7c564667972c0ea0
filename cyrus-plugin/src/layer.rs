//! The security layer as libsasl2 drives it: `encode` turns an I/O vector into one or
//! more length-prefixed packets, `decode` accepts the byte stream in any chunking
//! (whole packets from libldap, arbitrary pieces from other applications) and returns
//! the plaintext of every packet it completed. Output buffers are owned here and stay
//! valid until the next call.

use std::ffi::c_int;

use sasl_digest_md5::layer::{FrameDecoder, LayerError, Sealer, Unsealer};

use crate::codes;

/// One connection's layer: both halves, the frame reassembly and the output buffers.
pub struct Layer {
    tx: Sealer,
    rx: Unsealer,
    frames: FrameDecoder,
    scratch: Vec<u8>,
    enc: Vec<u8>,
    dec: Vec<u8>,
    failed: bool,
}

fn code(e: &LayerError) -> c_int {
    match e {
        LayerError::IntegrityCheckFailed | LayerError::SequenceMismatch { .. } => codes::BADMAC,
        LayerError::MessageTooLarge { .. } => codes::BUFOVER,
        _ => codes::FAIL,
    }
}

impl Layer {
    /// A layer from the crate's halves; `own_maxbuf` bounds incoming packets.
    pub fn new(tx: Sealer, rx: Unsealer, own_maxbuf: u32) -> Result<Layer, LayerError> {
        Ok(Layer {
            tx,
            rx,
            frames: FrameDecoder::new(own_maxbuf)?,
            scratch: Vec::new(),
            enc: Vec::new(),
            dec: Vec::new(),
            failed: false,
        })
    }

    /// The largest plaintext one packet carries.
    pub fn max_plaintext_len(&self) -> usize {
        self.tx.max_plaintext_len()
    }

    /// Seals the concatenation of `parts`: packets of at most
    /// [`Layer::max_plaintext_len`] bytes of plaintext each, back to back.
    pub fn encode(&mut self, parts: &[&[u8]]) -> Result<&[u8], c_int> {
        self.enc.clear();
        let data: &[u8] = if parts.len() == 1 {
            parts[0]
        } else {
            self.scratch.clear();
            for p in parts {
                self.scratch.extend_from_slice(p);
            }
            &self.scratch
        };
        let max = self.tx.max_plaintext_len().max(1);
        for chunk in data.chunks(max) {
            self.tx.seal_frame(chunk, &mut self.enc).map_err(|e| code(&e))?;
        }
        Ok(&self.enc)
    }

    /// Feeds received bytes; returns the plaintext of every packet completed by them
    /// (possibly none). The first error is final.
    pub fn decode(&mut self, mut input: &[u8]) -> Result<&[u8], c_int> {
        if self.failed {
            return Err(codes::FAIL);
        }
        self.dec.clear();
        let Layer { rx, frames, dec, failed, .. } = self;
        while !input.is_empty() {
            let (used, frame) = match frames.feed(input) {
                Ok(x) => x,
                Err(e) => {
                    *failed = true;
                    return Err(code(&e));
                }
            };
            input = &input[used..];
            if let Some(frame) = frame {
                match rx.unseal_in_place(frame) {
                    Ok(n) => dec.extend_from_slice(&frame[..n]),
                    Err(e) => {
                        *failed = true;
                        return Err(code(&e));
                    }
                }
            }
        }
        Ok(&self.dec)
    }
}
