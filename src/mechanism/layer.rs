//! The security layer behind rsasl's `Session::encode`/`decode`: length-prefixed
//! frames (RFC 4422 §3.7) over this crate's sealer and unsealer.

use std::io::Write;

use rsasl::mechanism::SessionError;
use zeroize::Zeroize;

use super::error::session_error;
use crate::layer::{FrameDecoder, LayerError, Peek, Sealer, Unsealer};
use crate::{Error, Negotiated};

/// The installed security layer and scratch space (no allocation per message once
/// warm).
pub(super) struct Layer {
    sealer: Sealer,
    unsealer: Unsealer,
    frames: FrameDecoder,
    scratch: Vec<u8>,
    /// A frame was refused (bad length prefix or unseal failure): every later
    /// `decode` fails too, as the `Unsealer` and `FrameDecoder` do on their own.
    failed: bool,
}

impl std::fmt::Debug for Layer {
    // Not derived: `scratch` holds the last unsealed plaintext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer")
            .field("sealer", &self.sealer)
            .field("unsealer", &self.unsealer)
            .finish_non_exhaustive()
    }
}

impl Layer {
    pub(super) fn encode(
        &mut self,
        input: &[u8],
        writer: &mut dyn Write,
    ) -> Result<usize, SessionError> {
        let n = input.len().min(self.sealer.max_plaintext_len());
        self.scratch.clear();
        self.sealer
            .seal_frame(&input[..n], &mut self.scratch)
            .map_err(|e| session_error(e.into()))?;
        writer.write_all(&self.scratch)?;
        Ok(n)
    }

    pub(super) fn decode(
        &mut self,
        input: &[u8],
        writer: &mut dyn Write,
    ) -> Result<usize, SessionError> {
        if self.failed {
            return Err(session_error(LayerError::Poisoned.into()));
        }
        let result = self.decode_frame(input, writer);
        self.failed = matches!(&result, Err(e) if !matches!(e, SessionError::InputDataRequired));
        result
    }

    fn decode_frame(
        &mut self,
        input: &[u8],
        writer: &mut dyn Write,
    ) -> Result<usize, SessionError> {
        let frame_len = match self
            .frames
            .peek(input)
            .map_err(|e| session_error(e.into()))?
        {
            Peek::Frame { frame_len } => frame_len,
            Peek::NeedMore { .. } => return Err(SessionError::InputDataRequired),
        };
        self.scratch.clear();
        self.unsealer
            .unseal(&input[4..frame_len], &mut self.scratch)
            .map_err(|e| session_error(e.into()))?;
        let written = writer.write_all(&self.scratch);
        // The plaintext would outlive this message in the scratch buffer: wipe it
        // (as long as the message, no allocation).
        self.scratch.as_mut_slice().zeroize();
        written?;
        Ok(frame_len)
    }
}

impl Drop for Layer {
    fn drop(&mut self) {
        // The whole capacity: earlier, longer messages left bytes past `len`.
        self.scratch.zeroize();
    }
}

pub(super) fn layer_of(
    negotiated: &Negotiated,
    take: impl FnOnce() -> Result<(Sealer, Unsealer), Error>,
) -> Result<Option<Layer>, SessionError> {
    if !negotiated.qop.has_layer() {
        return Ok(None);
    }
    let (sealer, unsealer) = take().map_err(session_error)?;
    let frames = FrameDecoder::new(negotiated.own_maxbuf).map_err(|e| session_error(e.into()))?;
    Ok(Some(Layer {
        sealer,
        unsealer,
        frames,
        scratch: Vec::new(),
        failed: false,
    }))
}
