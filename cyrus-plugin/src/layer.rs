//! The security layer as libsasl2 drives it: `encode` turns an I/O vector into one or
//! more length-prefixed packets, `decode` accepts the byte stream in any chunking
//! (whole packets from libldap, arbitrary pieces from other applications) and returns
//! the plaintext of every packet it completed. Output buffers are owned here and stay
//! valid until the next call.

use std::ffi::c_int;

use sasl_digest_md5::layer::{FrameDecoder, LayerError, Peek, Sealer, Unsealer};

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
            self.tx
                .seal_frame(chunk, &mut self.enc)
                .map_err(|e| code(&e))?;
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
        let Layer {
            rx,
            frames,
            dec,
            failed,
            ..
        } = self;
        while !input.is_empty() {
            // Fast path (whole packets, as libldap and slapd pass them): copy the
            // wire message once, straight into the output, and unseal it there.
            if !frames.is_mid_frame() {
                match frames.peek(input) {
                    Ok(Peek::Frame { frame_len }) => {
                        let start = dec.len();
                        dec.extend_from_slice(&input[4..frame_len]);
                        match rx.unseal_in_place(&mut dec[start..]) {
                            Ok(n) => dec.truncate(start + n),
                            Err(e) => {
                                *failed = true;
                                return Err(code(&e));
                            }
                        }
                        input = &input[frame_len..];
                        continue;
                    }
                    Ok(Peek::NeedMore { .. }) => {}
                    Err(e) => {
                        *failed = true;
                        return Err(code(&e));
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use sasl_digest_md5::{layer, Cipher, Qop, Side};

    fn pair(qop: Qop, cipher: Option<Cipher>, maxbuf: u32) -> (Layer, Layer) {
        let ha1 = [7u8; 16];
        let (ctx, crx) = layer::establish(&ha1, qop, cipher, Side::Client, maxbuf, maxbuf).unwrap();
        let (stx, srx) = layer::establish(&ha1, qop, cipher, Side::Server, maxbuf, maxbuf).unwrap();
        (
            Layer::new(ctx, crx, maxbuf).unwrap(),
            Layer::new(stx, srx, maxbuf).unwrap(),
        )
    }

    /// Any chunking of the stream (byte by byte, odd sizes, several packets in one
    /// call, packets split across calls) yields the same plaintext; several iovecs
    /// and messages above one packet's capacity are split into packets.
    #[test]
    fn decode_copes_with_any_chunking() {
        for (qop, cipher) in [
            (Qop::AuthInt, None),
            (Qop::AuthConf, Some(Cipher::Rc4)),
            (Qop::AuthConf, Some(Cipher::Des)),
            (Qop::AuthConf, Some(Cipher::TripleDes)),
        ] {
            let (mut client, mut server) = pair(qop, cipher, 1000);
            let msgs: Vec<Vec<u8>> = (0..6usize)
                .map(|k| (0..(k * 700 + 1)).map(|i| (i * 31 + k) as u8).collect())
                .collect();
            let mut stream = Vec::new();
            for m in &msgs {
                let (a, b) = m.split_at(m.len() / 3);
                stream.extend_from_slice(client.encode(&[a, b]).unwrap());
            }
            let want: Vec<u8> = msgs.concat();
            // Packets never exceed the peer's maxbuf (1000).
            let (mut at, mut packets) = (0, 0);
            while at < stream.len() {
                let len = u32::from_be_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
                assert!(len <= 1000, "{len}");
                at += 4 + len;
                packets += 1;
            }
            assert!(packets > msgs.len(), "long messages were split: {packets}");
            for chunk in [1usize, 3, 17, 999, 1004, 4096, stream.len()] {
                let (mut c2, mut s2) = pair(qop, cipher, 1000);
                let mut s = Vec::new();
                for m in &msgs {
                    s.extend_from_slice(c2.encode(&[m]).unwrap());
                }
                assert_eq!(s, stream, "deterministic sealing");
                let mut got = Vec::new();
                for piece in s.chunks(chunk) {
                    got.extend_from_slice(s2.decode(piece).unwrap());
                }
                assert_eq!(got, want, "{qop:?} {cipher:?} chunk {chunk}");
            }
            let got = server.decode(&stream).unwrap().to_vec();
            assert_eq!(got, want);
            // A replayed packet is refused, and the layer stays failed.
            let (mut c3, mut s3) = pair(qop, cipher, 1000);
            let one = c3.encode(&[b"hello"]).unwrap().to_vec();
            assert_eq!(s3.decode(&one).unwrap(), b"hello");
            assert_eq!(s3.decode(&one), Err(codes::BADMAC));
            assert_eq!(s3.decode(b"x"), Err(codes::FAIL));
        }
    }

    #[test]
    fn oversized_packet_is_refused_before_buffering() {
        let (_, mut server) = pair(Qop::AuthInt, None, 1000);
        assert_eq!(server.decode(&[0, 0, 3, 233]), Err(codes::FAIL)); // 1001 > 1000
    }
}
