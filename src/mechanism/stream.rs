//! The tokio [`SecureStream`] over an authenticated rsasl session (feature `tokio`).

use std::io;
use std::sync::{Arc, Mutex};

use rsasl::prelude::{ChannelBindingCallback, Session, SessionError, Validation};
use rsasl::validate::NoValidation;
use tokio::io::{AsyncRead, AsyncWrite};

use super::error::SessionErrorExt;
use super::outcome::OutcomeHandle;
use crate::stream::{FrameSeal, FrameUnseal, SecureStream};

/// Names rsasl's default channel-binding type, which rsasl does not export.
#[doc(hidden)]
pub trait SessionParams {
    /// The session's channel-binding callback type.
    type ChannelBindings;
}

impl<V: Validation, C> SessionParams for Session<V, C> {
    type ChannelBindings = C;
}

/// rsasl's default channel-binding callback type (`Session<V>`'s second parameter).
pub type DefaultChannelBindings = <Session as SessionParams>::ChannelBindings;

/// A security layer held by an rsasl [`Session`], shared by the two halves of a
/// stream (both `encode` and `decode` need the session).
pub struct SessionLayer<V: Validation = NoValidation, C = DefaultChannelBindings>(
    pub Arc<Mutex<Session<V, C>>>,
);

/// The secure stream over an rsasl session, as a type a struct can name:
/// `SessionStream<TcpStream>` for a client, `SessionStream<TcpStream, MyValidation>`
/// for a server.
pub type SessionStream<S, V = NoValidation, C = DefaultChannelBindings> =
    SecureStream<S, SessionLayer<V, C>, SessionLayer<V, C>>;

impl<V: Validation, C> Clone for SessionLayer<V, C> {
    fn clone(&self) -> Self {
        SessionLayer(Arc::clone(&self.0))
    }
}

impl<V: Validation, C> SessionLayer<V, C> {
    fn with<T>(&self, f: impl FnOnce(&mut Session<V, C>) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

/// The error of a refused frame, as the stream reports it: the [`LayerError`]
/// (`crate::LayerError`) itself when there is one, as on the sans-IO path.
fn io_error(kind: io::ErrorKind, e: SessionError) -> io::Error {
    match e.layer_error() {
        Some(layer) => io::Error::new(kind, layer.clone()),
        None => io::Error::new(kind, e),
    }
}

impl<V: Validation, C: ChannelBindingCallback> FrameSeal for SessionLayer<V, C> {
    fn seal_frame(&mut self, msg: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        self.with(|s| s.encode(msg, out))
            .map_err(|e| io_error(io::ErrorKind::Other, e))
    }
}

impl<V: Validation, C: ChannelBindingCallback> FrameUnseal for SessionLayer<V, C> {
    fn unseal_frame(&mut self, input: &mut [u8], out: &mut Vec<u8>) -> io::Result<Option<usize>> {
        match self.with(|s| s.decode(input, out)) {
            Ok(frame_len) => Ok(Some(frame_len)),
            Err(SessionError::InputDataRequired) => Ok(None),
            Err(e) => Err(io_error(io::ErrorKind::InvalidData, e)),
        }
    }
}

impl<S, V, C> SecureStream<S, SessionLayer<V, C>, SessionLayer<V, C>>
where
    S: AsyncRead + AsyncWrite,
    V: Validation,
    C: ChannelBindingCallback,
{
    /// Wraps `stream` with the security layer of an authenticated rsasl session. The
    /// session's mechanism frames and limits what is read (for DIGEST-MD5, the maxbuf
    /// this side advertised).
    ///
    /// # Errors
    /// `InvalidInput` if the session has no security layer (qop `auth`, or a
    /// mechanism without one): use the stream itself then.
    pub fn with_session(stream: S, session: Session<V, C>) -> io::Result<Self> {
        if !session.has_security_layer() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the SASL session has no security layer",
            ));
        }
        let layer = SessionLayer(Arc::new(Mutex::new(session)));
        Ok(SecureStream::with_layer(stream, layer.clone(), layer))
    }
}

impl OutcomeHandle {
    /// [`SecureStream::with_session`], with what the session negotiated attached
    /// ([`SecureStream::negotiated`]).
    ///
    /// # Errors
    /// `InvalidInput` if the session has no security layer, or if this handle holds
    /// no outcome yet (the exchange has not finished).
    pub fn secure_stream<S, V, C>(
        &self,
        stream: S,
        session: Session<V, C>,
    ) -> io::Result<SessionStream<S, V, C>>
    where
        S: AsyncRead + AsyncWrite,
        V: Validation,
        C: ChannelBindingCallback,
    {
        let negotiated = self.negotiated().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the exchange has not finished: no outcome to attach",
            )
        })?;
        Ok(SecureStream::with_session(stream, session)?.with_negotiated(negotiated))
    }
}
