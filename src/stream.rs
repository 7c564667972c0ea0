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
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use zeroize::Zeroize;

use crate::layer::{peek_frame, LayerError, Peek, Sealer, Unsealer};

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

/// A security layer held by an rsasl [`Session`](rsasl::prelude::Session), shared by
/// the two halves of a stream (both `encode` and `decode` need the session).
pub struct SessionLayer<V: rsasl::prelude::Validation, C>(
    pub Arc<Mutex<rsasl::prelude::Session<V, C>>>,
);

impl<V: rsasl::prelude::Validation, C> Clone for SessionLayer<V, C> {
    fn clone(&self) -> Self {
        SessionLayer(Arc::clone(&self.0))
    }
}

impl<V, C> SessionLayer<V, C>
where
    V: rsasl::prelude::Validation,
{
    fn with<T>(&self, f: impl FnOnce(&mut rsasl::prelude::Session<V, C>) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

impl<V, C> FrameSeal for SessionLayer<V, C>
where
    V: rsasl::prelude::Validation,
    C: rsasl::prelude::ChannelBindingCallback,
{
    fn seal_frame(&mut self, msg: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        self.with(|s| s.encode(msg, out)).map_err(io::Error::other)
    }
}

impl<V, C> FrameUnseal for SessionLayer<V, C>
where
    V: rsasl::prelude::Validation,
    C: rsasl::prelude::ChannelBindingCallback,
{
    fn unseal_frame(&mut self, input: &mut [u8], out: &mut Vec<u8>) -> io::Result<Option<usize>> {
        match self.with(|s| s.decode(input, out)) {
            Ok(frame_len) => Ok(Some(frame_len)),
            Err(rsasl::prelude::SessionError::InputDataRequired) => Ok(None),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
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
pub struct SecureStream<S, T = Sealer, U = Unsealer> {
    reader: SecureReader<ReadHalf<S>, U>,
    writer: SecureWriter<WriteHalf<S>, T>,
}

impl<S: AsyncRead + AsyncWrite> SecureStream<S> {
    /// Wraps `stream` with our own security layer halves. The largest frame accepted
    /// is the unsealer's maxbuf (the one we advertised).
    pub fn new(stream: S, sealer: Sealer, unsealer: Unsealer) -> Self {
        let (r, w) = tokio::io::split(stream);
        SecureStream {
            reader: SecureReader::new(r, unsealer),
            writer: SecureWriter::new(w, sealer),
        }
    }
}

impl<S, V, C> SecureStream<S, SessionLayer<V, C>, SessionLayer<V, C>>
where
    S: AsyncRead + AsyncWrite,
    V: rsasl::prelude::Validation,
    C: rsasl::prelude::ChannelBindingCallback,
{
    /// Wraps `stream` with the security layer of an authenticated rsasl session. The
    /// session's mechanism frames and limits what is read (for DIGEST-MD5, the maxbuf
    /// this side advertised).
    ///
    /// # Errors
    /// `InvalidInput` if the session has no security layer (qop `auth`, or a
    /// mechanism without one): use the stream itself then.
    pub fn with_session(stream: S, session: rsasl::prelude::Session<V, C>) -> io::Result<Self> {
        if !session.has_security_layer() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the SASL session has no security layer",
            ));
        }
        let layer = SessionLayer(Arc::new(Mutex::new(session)));
        let (r, w) = tokio::io::split(stream);
        Ok(SecureStream {
            reader: SecureReader::new(r, layer.clone()),
            writer: SecureWriter::new(w, layer),
        })
    }
}

impl<S, T, U> SecureStream<S, T, U> {
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
