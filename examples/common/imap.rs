//! IMAP client plumbing: greeting, CAPABILITY, AUTHENTICATE (SASL-IR when
//! offered and the mechanism is client-first), `+` continuations (an rspauth
//! continuation is answered by the mechanism's empty response), then
//! CAPABILITY and LIST over the stream returned by [`super::secure`].
//!
//! Commands, continuation data, greetings and responses are encoded and
//! decoded with `imap-codec`; this module buffers bytes and runs the loop,
//! over any `AsyncRead + AsyncWrite` stream.

use std::time::Duration;

use imap_codec::decode::{Decoder, GreetingDecodeError, ResponseDecodeError};
use imap_codec::encode::Encoder;
use imap_codec::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::Tag;
use imap_codec::imap_types::response::{
    CommandContinuationRequest, Data, GreetingKind, Response, Status,
};
use imap_codec::imap_types::secret::Secret;
use imap_codec::{AuthenticateDataCodec, CommandCodec, GreetingCodec, ResponseCodec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sasl;
use super::{connect, secure, timed, Args, AsyncStream, Error, Result};

/// Largest response accepted while waiting for its end.
const MAX_BUFFER: usize = 16 << 20;

/// What a run of the IMAP client found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mechanism: String,
    pub negotiated: String,
    /// Capabilities before and after authentication.
    pub capabilities_before: Vec<String>,
    pub capabilities_after: Vec<String>,
    /// Raw `* LIST ...` lines.
    pub list: Vec<String>,
}

/// An owned view of the server responses this client cares about.
#[derive(Debug, Clone)]
pub enum Resp {
    /// `+ ...`: decoded base64 data (empty for a plain `+` / text).
    Continue(Vec<u8>),
    /// `* CAPABILITY ...`
    Capability(Vec<String>),
    /// Tagged completion: tag, "OK"/"NO"/"BAD", text.
    Done {
        tag: String,
        status: &'static str,
        text: String,
    },
    /// `* BYE ...`
    Bye(String),
    /// Any other untagged response.
    Other,
}

/// An IMAP connection over any stream.
pub struct Conn<S> {
    pub stream: S,
    buf: Vec<u8>,
    next_tag: u32,
    timeout: Duration,
}

impl<S> Conn<S> {
    pub fn new(stream: S, timeout: Duration) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            next_tag: 1,
            timeout,
        }
    }

    /// Continue on another stream (after AUTHENTICATE: the sealed one).
    pub fn map_stream<T>(self, f: impl FnOnce(S) -> Result<T>) -> Result<Conn<T>> {
        if !self.buf.is_empty() {
            bail!(
                "server sent {} unexpected bytes right after authentication",
                self.buf.len()
            );
        }
        Ok(Conn {
            stream: f(self.stream)?,
            buf: Vec::new(),
            next_tag: self.next_tag,
            timeout: self.timeout,
        })
    }
}

fn status_text(s: &Status) -> String {
    s.text().as_ref().to_string()
}

fn convert(resp: Response) -> Resp {
    match resp {
        Response::CommandContinuationRequest(CommandContinuationRequest::Base64(d)) => {
            Resp::Continue(d.into_owned())
        }
        Response::CommandContinuationRequest(CommandContinuationRequest::Basic(_)) => {
            Resp::Continue(Vec::new())
        }
        Response::Data(Data::Capability(caps)) => {
            Resp::Capability(caps.as_ref().iter().map(|c| c.to_string()).collect())
        }
        Response::Status(s) => {
            let text = status_text(&s);
            match s {
                Status::Ok { tag: Some(t), .. } => Resp::Done {
                    tag: t.as_ref().into(),
                    status: "OK",
                    text,
                },
                Status::No { tag: Some(t), .. } => Resp::Done {
                    tag: t.as_ref().into(),
                    status: "NO",
                    text,
                },
                Status::Bad { tag: Some(t), .. } => Resp::Done {
                    tag: t.as_ref().into(),
                    status: "BAD",
                    text,
                },
                Status::Bye { .. } => Resp::Bye(text),
                _ => Resp::Other,
            }
        }
        _ => Resp::Other,
    }
}

impl<S: AsyncStream> Conn<S> {
    async fn fill(&mut self, what: &str) -> Result<()> {
        if self.buf.len() > MAX_BUFFER {
            bail!("server response larger than {MAX_BUFFER} bytes");
        }
        let mut chunk = [0u8; 8192];
        let n = timed(self.timeout, what, self.stream.read(&mut chunk)).await?;
        if n == 0 {
            bail!("connection closed by the server while {what}");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8], what: &str) -> Result<()> {
        timed(self.timeout, what, self.stream.write_all(bytes)).await?;
        timed(self.timeout, what, self.stream.flush()).await
    }

    /// Read the server greeting; fails on BYE.
    pub async fn greeting(&mut self) -> Result<String> {
        loop {
            match GreetingCodec::default().decode(&self.buf) {
                Ok((rem, g)) => {
                    let used = self.buf.len() - rem.len();
                    let kind = g.kind;
                    let line = String::from_utf8_lossy(&self.buf[..used])
                        .trim_end()
                        .to_string();
                    self.buf.drain(..used);
                    if kind == GreetingKind::Bye {
                        bail!("server refused the connection: {line}");
                    }
                    return Ok(line);
                }
                Err(GreetingDecodeError::Incomplete) => {
                    self.fill("waiting for the IMAP greeting").await?
                }
                Err(GreetingDecodeError::Failed) => {
                    bail!(
                        "cannot parse the IMAP greeting: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    )
                }
            }
        }
    }

    /// Read one response; also returns its raw text (without CRLF).
    pub async fn response(&mut self) -> Result<(Resp, String)> {
        loop {
            match ResponseCodec::default().decode(&self.buf) {
                Ok((rem, r)) => {
                    let used = self.buf.len() - rem.len();
                    let resp = convert(r);
                    let line = String::from_utf8_lossy(&self.buf[..used])
                        .trim_end()
                        .to_string();
                    self.buf.drain(..used);
                    if let Resp::Bye(text) = &resp {
                        bail!("server closed the session: BYE {text}");
                    }
                    return Ok((resp, line));
                }
                Err(ResponseDecodeError::Incomplete)
                | Err(ResponseDecodeError::LiteralFound { .. }) => {
                    self.fill("waiting for an IMAP response").await?
                }
                Err(ResponseDecodeError::Failed) => {
                    let end = self
                        .buf
                        .iter()
                        .position(|b| *b == b'\n')
                        .unwrap_or(self.buf.len());
                    bail!(
                        "cannot parse IMAP response: {:?}",
                        String::from_utf8_lossy(&self.buf[..end])
                    )
                }
            }
        }
    }

    fn tag(&mut self) -> String {
        let t = format!("A{}", self.next_tag);
        self.next_tag += 1;
        t
    }

    async fn send_command(&mut self, tag: &str, body: CommandBody<'_>) -> Result<()> {
        let name = body.name();
        let cmd = Command::new(
            Tag::try_from(tag).map_err(|e| Error(format!("tag: {e}")))?,
            body,
        )
        .map_err(|e| Error(format!("building {name}: {e}")))?;
        let bytes = CommandCodec::default().encode(&cmd).dump();
        if name == "AUTHENTICATE" {
            progress!("C: {tag} AUTHENTICATE ...");
        } else {
            progress!("C: {}", String::from_utf8_lossy(&bytes).trim_end());
        }
        self.write(&bytes, &format!("sending {name}")).await
    }

    /// Run a simple command; returns the untagged response lines, fails on NO/BAD.
    pub async fn simple(&mut self, body: CommandBody<'_>) -> Result<Vec<(Resp, String)>> {
        let name = body.name();
        let tag = self.tag();
        self.send_command(&tag, body).await?;
        let mut untagged = Vec::new();
        loop {
            let (resp, line) = self.response().await?;
            match resp {
                Resp::Done {
                    tag: t,
                    status,
                    text,
                } if t == tag => {
                    if status != "OK" {
                        bail!("{name} failed: {status} {text}");
                    }
                    return Ok(untagged);
                }
                Resp::Continue(_) => bail!("unexpected continuation request during {name}"),
                other => {
                    progress!("S: {line}");
                    untagged.push((other, line));
                }
            }
        }
    }

    /// CAPABILITY; returns the capability atoms (e.g. `AUTH=PLAIN`, `SASL-IR`).
    pub async fn capability(&mut self) -> Result<Vec<String>> {
        let lines = self.simple(CommandBody::Capability).await?;
        Ok(lines
            .into_iter()
            .filter_map(|(r, _)| match r {
                Resp::Capability(c) => Some(c),
                _ => None,
            })
            .flatten()
            .collect())
    }

    /// AUTHENTICATE with the session's mechanism; returns when tagged OK.
    pub async fn authenticate(&mut self, client: &mut sasl::Client, sasl_ir: bool) -> Result<()> {
        let mech_name = client.mechanism.clone();
        let mech = AuthMechanism::try_from(mech_name.as_str())
            .map_err(|e| Error(format!("mechanism name: {e}")))?;
        let tag = self.tag();
        let mut finished = false;
        if client.client_first() && sasl_ir {
            let s = client.step(None)?;
            finished = s.finished;
            let ir = s.output.unwrap_or_default();
            self.send_command(&tag, CommandBody::authenticate_with_ir(mech, ir))
                .await?;
        } else {
            self.send_command(&tag, CommandBody::authenticate(mech))
                .await?;
        }
        loop {
            let (resp, line) = self.response().await?;
            match resp {
                Resp::Continue(data) => {
                    progress!("S: + ({} bytes of SASL data)", data.len());
                    let out = if finished {
                        // RFC 4959/3501: the server asks for more although we
                        // are done; only an empty response is sensible.
                        if !data.is_empty() {
                            bail!("server sent SASL data after {mech_name} finished");
                        }
                        Vec::new()
                    } else {
                        // A client-first mechanism without SASL-IR gets an
                        // empty first challenge: step(None).
                        let input = if data.is_empty() && client.client_first() {
                            None
                        } else {
                            Some(&data[..])
                        };
                        let s = client.step(input)?;
                        finished = s.finished;
                        // Finished without a message (DIGEST-MD5 after
                        // verifying rspauth): answer with an empty line.
                        s.output.unwrap_or_default()
                    };
                    let bytes = AuthenticateDataCodec::default()
                        .encode(&AuthenticateData(Secret::new(out.clone())))
                        .dump();
                    progress!("C: ({} bytes of SASL data)", out.len());
                    self.write(&bytes, "sending SASL response").await?;
                }
                Resp::Done {
                    tag: t,
                    status,
                    text,
                } if t == tag => {
                    if status != "OK" {
                        bail!("AUTHENTICATE {mech_name} failed: {status} {text}");
                    }
                    if !finished {
                        // The server says done while the mechanism expected
                        // more: it must confirm (DIGEST-MD5 fails here
                        // without rspauth).
                        let s = client.step(None)?;
                        if !s.finished {
                            bail!("server ended AUTHENTICATE but {mech_name} expects more");
                        }
                    }
                    progress!("S: {line}");
                    return Ok(());
                }
                _ => progress!("S: {line}"),
            }
        }
    }

    /// LOGOUT (best effort) and shut down.
    pub async fn logout(mut self) -> Result<()> {
        let _ = self.simple(CommandBody::Logout).await;
        let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
        Ok(())
    }
}

/// The whole client run.
pub async fn run(args: &Args) -> Result<Outcome> {
    run_with(args, sasl::MECHANISMS).await
}

/// [`run`] with another set of SASL mechanisms (tests).
pub async fn run_with(
    args: &Args,
    mechanisms: &'static [rsasl::prelude::Mechanism],
) -> Result<Outcome> {
    let tcp = connect(args).await?;
    progress!("connected to {}", args.server);
    let mut conn = Conn::new(tcp, args.timeout);
    let greeting = conn.greeting().await?;
    progress!("S: {greeting}");

    let capabilities_before = conn.capability().await?;
    let offered: Vec<String> = capabilities_before
        .iter()
        .filter_map(|c| {
            let (k, v) = c.split_once('=')?;
            k.eq_ignore_ascii_case("AUTH")
                .then(|| v.to_ascii_uppercase())
        })
        .collect();
    let sasl_ir = capabilities_before
        .iter()
        .any(|c| c.eq_ignore_ascii_case("SASL-IR"));
    progress!(
        "server SASL mechanisms: {} (SASL-IR: {})",
        offered.join(" "),
        if sasl_ir { "yes" } else { "no" }
    );

    let mut client = sasl::start_with(args, "imap", &offered, mechanisms)?;
    conn.authenticate(&mut client, sasl_ir).await?;
    let mechanism = client.mechanism.clone();
    let negotiated = client.negotiated_line();
    progress!("{negotiated}");

    // Everything after AUTHENTICATE goes through the (possibly sealed) stream.
    let session = client.into_session();
    let mut conn = conn.map_stream(|tcp| secure(tcp, session))?;

    let capabilities_after = conn.capability().await?;
    let list_cmd =
        CommandBody::list("", "*").map_err(|e| Error(format!("building LIST: {e:?}")))?;
    let list = conn
        .simple(list_cmd)
        .await?
        .into_iter()
        .map(|(_, line)| line)
        .filter(|l| l.to_ascii_uppercase().starts_with("* LIST"))
        .collect();
    conn.logout().await?;
    Ok(Outcome {
        mechanism,
        negotiated,
        capabilities_before,
        capabilities_after,
        list,
    })
}
