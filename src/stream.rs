//! A tokio stream that protects everything it carries with the negotiated security
//! layer: writes are sealed into RFC 4422 length-prefixed frames (split at the peer's
//! maxbuf), reads are unsealed. It is itself `AsyncRead + AsyncWrite`, and splits into
//! halves that two tasks can use at once.
//!
//! ```no_run
//! # async fn demo(tcp: tokio::net::TcpStream, mut client: sasl_digest_md5::ClientContext) -> std::io::Result<()> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use sasl_digest_md5::stream::SecureStream;
//! // ... authenticate `client` over `tcp` first ...
//! let (sealer, unsealer) = client.security_layer().map_err(std::io::Error::other)?;
//! let mut secure = SecureStream::new(tcp, sealer, unsealer);
//! secure.write_all(b"hello").await?;
//! secure.flush().await?;
//! let mut buf = [0u8; 5];
//! secure.read_exact(&mut buf).await?;
//! # Ok(()) }
//! ```
//!
//! The largest frame accepted is the maxbuf this side advertised, taken from the
//! unsealer (or the rsasl session) itself: a frame announcing more is refused as soon
//! as its 4-byte prefix has arrived, before any of it is buffered, and every genuine
//! frame fits.
//!
//! A write returns only once its frame has been handed to the underlying stream, so
//! a request written without `flush` and followed by a read cannot leave its tail
//! behind (see [`SecureWriter`]).
//!
//! Errors surface as `std::io::Error`: `InvalidData` wrapping the [`LayerError`] for
//! a frame that fails its checks (the reading half then stays failed),
//! `UnexpectedEof` for a connection that ends in the middle of a frame.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use zeroize::Zeroize;

use crate::layer::{peek_frame, LayerError, Peek, Sealer, Unsealer};
use crate::Negotiated;

/// The sending side of a security layer, as the stream needs it.
pub trait FrameSeal {
    /// Seals the start of `msg` into one length-prefixed frame appended to `out`;
    /// returns how many bytes of `msg` it took (at least one if `msg` is not empty).
    fn seal_frame(&mut self, msg: &[u8], out: &mut Vec<u8>) -> io::Result<usize>;
}

/// The receiving side of a security layer, as the stream needs it. It owns the size
/// limit (the maxbuf this side advertised), so the stream has no second one.
pub trait FrameUnseal {
    /// If `input` starts with a whole frame (4-byte prefix included), unseals it,
    /// appends the plaintext to `out` and returns `Some(frame length)`; returns `None`
    /// while the frame is incomplete.
    ///
    /// # Errors
    /// `InvalidData` as soon as the prefix announces a length above our maxbuf (or
    /// below the 16-byte minimum), or when the frame fails its checks.
    fn unseal_frame(&mut self, input: &mut [u8], out: &mut Vec<u8>) -> io::Result<Option<usize>>;
}

fn invalid(e: LayerError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl FrameSeal for Sealer {
    fn seal_frame(&mut self, msg: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        let n = msg.len().min(self.max_plaintext_len());
        Sealer::seal_frame(self, &msg[..n], out).map_err(invalid)?;
        Ok(n)
    }
}

impl FrameUnseal for Unsealer {
    fn unseal_frame(&mut self, input: &mut [u8], out: &mut Vec<u8>) -> io::Result<Option<usize>> {
        match peek_frame(self.own_maxbuf, input).map_err(invalid)? {
            Peek::NeedMore { .. } => Ok(None),
            Peek::Frame { frame_len } => {
                // Decrypted straight into `out`: no plaintext is left in the read buffer.
                self.unseal(&input[4..frame_len], out).map_err(invalid)?;
                Ok(Some(frame_len))
            }
        }
    }
}

/// The reading half: unseals frames from `R`.
pub struct SecureReader<R, U = Unsealer> {
    inner: R,
    unsealer: U,
    /// Read buffer: `raw[start..end]` read but not yet consumed.
    raw: Vec<u8>,
    start: usize,
    end: usize,
    /// Plaintext unsealed; `plain[pos..]` not yet returned.
    plain: Vec<u8>,
    pos: usize,
    failed: bool,
}

impl<R, U> SecureReader<R, U> {
    /// Reads frames from `inner` and unseals them; the largest frame accepted is the
    /// unsealer's (the maxbuf this side advertised).
    pub fn new(inner: R, unsealer: U) -> Self {
        SecureReader {
            inner,
            unsealer,
            raw: Vec::new(),
            start: 0,
            end: 0,
            plain: Vec::new(),
            pos: 0,
            failed: false,
        }
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

const READ_CHUNK: usize = 16 * 1024;

impl<R: AsyncRead + Unpin, U: FrameUnseal + Unpin> AsyncRead for SecureReader<R, U> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.pos < this.plain.len() {
                let n = buf.remaining().min(this.plain.len() - this.pos);
                buf.put_slice(&this.plain[this.pos..this.pos + n]);
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.failed {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    LayerError::Poisoned,
                )));
            }
            // The plaintext returned so far is wiped before the buffer is reused (as
            // long as the message, no allocation).
            this.plain.as_mut_slice().zeroize();
            this.plain.clear();
            this.pos = 0;
            let input = &mut this.raw[this.start..this.end];
            match this.unsealer.unseal_frame(input, &mut this.plain) {
                Ok(Some(frame_len)) => {
                    this.start += frame_len;
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    this.failed = true;
                    return Poll::Ready(Err(e));
                }
            };
            // Compact, then read up to one chunk more: memory grows with what the
            // peer actually sent, not with the length it announced (which the
            // unsealer already checked against our maxbuf).
            if this.start > 0 {
                this.raw.copy_within(this.start..this.end, 0);
                this.end -= this.start;
                this.start = 0;
            }
            let have = this.end;
            if this.raw.len() < have + READ_CHUNK {
                this.raw.resize(have + READ_CHUNK, 0);
            }
            let mut rb = ReadBuf::new(&mut this.raw[have..]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            let got = rb.filled().len();
            this.end += got;
            if got == 0 {
                if have == 0 {
                    return Poll::Ready(Ok(())); // clean end of stream
                }
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection ended in the middle of a security-layer frame",
                )));
            }
        }
    }
}

impl<R, U> Drop for SecureReader<R, U> {
    fn drop(&mut self) {
        // Whole capacities: plaintext (and, for auth-int, the clear wire messages).
        self.plain.zeroize();
        self.raw.zeroize();
    }
}

/// The writing half: seals into frames written to `W`.
///
/// `poll_write` returns `Ready(n)` only once the frame carrying those `n` bytes has
/// been handed to `W` entirely, so when `write_all` returns nothing is left behind in
/// this writer: a write followed by a read needs no flush (over TCP, where flushing
/// does nothing, an unflushed tail would otherwise wait forever while both peers
/// read). At most one frame is buffered.
///
/// As with TLS streams, after `poll_write` returned `Pending` the next `poll_write`
/// must be given the same data again (`write_all`, `tokio::io::copy` and `BufWriter`
/// do): it was sealed on the first call and is reported, not sealed again, once sent.
pub struct SecureWriter<W, T = Sealer> {
    inner: W,
    sealer: T,
    out: Vec<u8>,
    written: usize,
    /// Bytes of the caller's data sealed into `out` by a `poll_write` that returned
    /// `Pending`; reported by the next `poll_write` once `out` has been sent.
    unreported: usize,
}

impl<W, T> SecureWriter<W, T> {
    /// Seals everything written into frames sent to `inner`.
    pub fn new(inner: W, sealer: T) -> Self {
        SecureWriter {
            inner,
            sealer,
            out: Vec::new(),
            written: 0,
            unreported: 0,
        }
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W, T> Drop for SecureWriter<W, T> {
    fn drop(&mut self) {
        // For auth-int the sealed frames carry the plaintext in clear.
        self.out.zeroize();
    }
}

impl<W: AsyncWrite + Unpin, T> SecureWriter<W, T> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.out.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin, T: FrameSeal + Unpin> AsyncWrite for SecureWriter<W, T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if this.unreported > 0 {
            // The retry of a write that returned Pending: its frame is now sent.
            let n = this.unreported;
            if buf.len() < n {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "poll_write retried with less data than it had already sealed",
                )));
            }
            this.unreported = 0;
            return Poll::Ready(Ok(n));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = this.sealer.seal_frame(buf, &mut this.out)?;
        // Ready only once the frame is handed on: nothing may stay behind in `out`
        // when the caller goes on to read without flushing.
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(n)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                this.unreported = n;
                Poll::Pending
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A protected stream over `S`; see the [module docs](self).
///
/// Over an rsasl session it is a
/// [`SessionStream`](crate::mechanism::SessionStream), made by
/// [`SecureStream::with_session`] or
/// [`OutcomeHandle::secure_stream`](crate::mechanism::OutcomeHandle::secure_stream).
pub struct SecureStream<S, T = Sealer, U = Unsealer> {
    reader: SecureReader<ReadHalf<S>, U>,
    writer: SecureWriter<WriteHalf<S>, T>,
    negotiated: Option<Negotiated>,
}

impl<S: AsyncRead + AsyncWrite> SecureStream<S> {
    /// Wraps `stream` with our own security layer halves. The largest frame accepted
    /// is the unsealer's maxbuf (the one we advertised).
    pub fn new(stream: S, sealer: Sealer, unsealer: Unsealer) -> Self {
        SecureStream::with_layer(stream, sealer, unsealer)
    }
}

impl<S: AsyncRead + AsyncWrite, T, U> SecureStream<S, T, U> {
    /// Wraps `stream` with any sending and receiving halves (this crate's, an rsasl
    /// session's, or your own [`FrameSeal`]/[`FrameUnseal`]).
    pub fn with_layer(stream: S, sealer: T, unsealer: U) -> Self {
        let (r, w) = tokio::io::split(stream);
        SecureStream {
            reader: SecureReader::new(r, unsealer),
            writer: SecureWriter::new(w, sealer),
            negotiated: None,
        }
    }
}

impl<S, T, U> std::fmt::Debug for SecureStream<S, T, U> {
    // Not derived: the buffers may hold plaintext, and the halves need no Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureStream")
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl<S, T, U> SecureStream<S, T, U> {
    /// Attaches what was negotiated (for [`SecureStream::negotiated`]).
    pub fn with_negotiated(mut self, negotiated: Negotiated) -> Self {
        self.negotiated = Some(negotiated);
        self
    }

    /// What was negotiated (qop, cipher, ssf, both maxbufs, identities), when known:
    /// attached by [`SecureStream::with_negotiated`] or
    /// [`OutcomeHandle::secure_stream`](crate::mechanism::OutcomeHandle::secure_stream).
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Splits into halves usable from two tasks at once.
    pub fn into_split(self) -> (SecureReader<ReadHalf<S>, U>, SecureWriter<WriteHalf<S>, T>) {
        (self.reader, self.writer)
    }
}

impl<S: AsyncRead + AsyncWrite, T: Unpin, U: FrameUnseal + Unpin> AsyncRead
    for SecureStream<S, T, U>
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite, T: FrameSeal + Unpin, U: Unpin> AsyncWrite
    for SecureStream<S, T, U>
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}
