//! SMTP client plumbing (RFC 5321, AUTH per RFC 4954): greeting, EHLO, the
//! mechanisms of the `AUTH` capability, `AUTH MECH` with `334` continuations in
//! base64 (an rspauth continuation is answered by an empty line once the
//! mechanism has verified it), then MAIL FROM / RCPT TO / DATA with a short
//! message and QUIT over the stream returned by [`super::secure`] (RFC 4954 §4:
//! a negotiated security layer applies from the reply to AUTH on; Postfix
//! offers none, its challenge has qop `auth` only).
//!
//! The message goes from and to `USER@HOST` (`--user`, `--host`; a `--user`
//! that already contains `@` is used as it is).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sasl;
use super::{connect, secure, timed, Args, AsyncStream, Error, Result};

/// Longest reply line accepted (RFC 5321 allows 512; servers send less).
const MAX_LINE: usize = 64 * 1024;
/// Most lines in one multi-line reply.
const MAX_LINES: usize = 1000;

/// What a run of the SMTP client found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mechanism: String,
    pub negotiated: String,
    /// SASL mechanisms of the EHLO `AUTH` capability.
    pub offered: Vec<String>,
    /// Envelope sender and recipient (`USER@HOST`).
    pub from: String,
    pub to: String,
    /// The `Message-ID` of the message sent (without `<>`).
    pub message_id: String,
    /// The server's final reply to DATA, e.g. `250 2.0.0 Ok: queued as 4Q...`.
    pub queued: String,
}

/// One SMTP reply: the code and its text lines.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// `CODE text` (lines joined by spaces), for messages.
    pub fn line(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" "))
            .trim_end()
            .to_string()
    }
}

/// An SMTP connection over any stream.
pub struct Conn<S> {
    pub stream: S,
    buf: Vec<u8>,
    timeout: Duration,
}

impl<S> Conn<S> {
    pub fn new(stream: S, timeout: Duration) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            timeout,
        }
    }

    /// Continue on another stream (after AUTH: the one with the security layer).
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
            timeout: self.timeout,
        })
    }
}

/// Parse `CODE[-| ]text`: (code, last line?, text).
fn parse_line(line: &str) -> Result<(u16, bool, &str)> {
    let b = line.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
        bail!("malformed SMTP reply line: {line:?}");
    }
    let code: u16 = line[..3]
        .parse()
        .map_err(|_| Error(format!("malformed SMTP reply code: {line:?}")))?;
    match b.get(3) {
        None => Ok((code, true, "")),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => bail!("malformed SMTP reply line: {line:?}"),
    }
}

impl<S: AsyncStream> Conn<S> {
    async fn read_line(&mut self, what: &str) -> Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=i).collect();
                let line = String::from_utf8_lossy(&raw);
                return Ok(line.trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buf.len() > MAX_LINE {
                bail!("SMTP reply line longer than {MAX_LINE} bytes while {what}");
            }
            let mut chunk = [0u8; 4096];
            let n = timed(self.timeout, what, self.stream.read(&mut chunk)).await?;
            if n == 0 {
                bail!("connection closed by the server while {what}");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Read one (possibly multi-line) reply.
    pub async fn reply(&mut self, what: &str) -> Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line(what).await?;
            let (code, last, text) = parse_line(&line)?;
            progress!("S: {line}");
            lines.push((code, text.to_string()));
            if lines.iter().any(|(c, _)| *c != code) {
                bail!("SMTP reply mixes codes while {what}: {line:?}");
            }
            if last {
                return Ok(Reply {
                    code,
                    lines: lines.into_iter().map(|(_, t)| t).collect(),
                });
            }
            if lines.len() > MAX_LINES {
                bail!("SMTP reply longer than {MAX_LINES} lines while {what}");
            }
        }
    }

    async fn write(&mut self, bytes: &[u8], what: &str) -> Result<()> {
        timed(self.timeout, what, self.stream.write_all(bytes)).await?;
        timed(self.timeout, what, self.stream.flush()).await
    }

    /// Send `line` + CRLF (shown as `shown` in the progress output).
    async fn send(&mut self, line: &str, shown: &str) -> Result<()> {
        progress!("C: {shown}");
        self.write(
            format!("{line}\r\n").as_bytes(),
            &format!("sending {shown}"),
        )
        .await
    }

    /// Send a command and require a reply with code `want`.
    pub async fn command(&mut self, line: &str, want: u16) -> Result<Reply> {
        self.send(line, line).await?;
        let r = self
            .reply(&format!("waiting for the reply to {line}"))
            .await?;
        if r.code != want {
            bail!("{line} failed: {}", r.line());
        }
        Ok(r)
    }

    /// AUTH with the session's mechanism (RFC 4954); returns on 235.
    pub async fn authenticate(&mut self, client: &mut sasl::Client) -> Result<()> {
        let mech = client.mechanism.clone();
        let mut finished = false;
        if client.client_first() {
            let s = client.step(None)?;
            finished = s.finished;
            let ir = s.output.unwrap_or_default();
            let ir = if ir.is_empty() {
                "=".to_string()
            } else {
                B64.encode(ir)
            };
            self.send(&format!("AUTH {mech} {ir}"), &format!("AUTH {mech} ..."))
                .await?;
        } else {
            self.send(&format!("AUTH {mech}"), &format!("AUTH {mech}"))
                .await?;
        }
        loop {
            let r = self.reply("waiting for the reply to AUTH").await?;
            match r.code {
                334 => {
                    let text = r.lines.last().map(|l| l.trim()).unwrap_or("");
                    let data = B64.decode(text).map_err(|e| {
                        Error(format!(
                            "AUTH {mech}: 334 data is not base64 ({e}): {text:?}"
                        ))
                    })?;
                    let out = if finished {
                        // The server asks for more although we are done: only an
                        // empty response is sensible.
                        if !data.is_empty() {
                            bail!("server sent SASL data after {mech} finished");
                        }
                        Vec::new()
                    } else {
                        let s = client.step(Some(&data))?;
                        finished = s.finished;
                        // Finished without a message (DIGEST-MD5 after verifying
                        // rspauth): answer with an empty line.
                        s.output.unwrap_or_default()
                    };
                    let line = B64.encode(&out);
                    self.send(&line, &format!("({} bytes of SASL data)", out.len()))
                        .await?;
                }
                235 => {
                    if !finished {
                        // Success while the mechanism expected more: it must
                        // confirm (DIGEST-MD5 fails here without rspauth).
                        let s = client.step(None)?;
                        if !s.finished {
                            bail!("server ended AUTH but {mech} expects more");
                        }
                    }
                    return Ok(());
                }
                _ => bail!("AUTH {mech} failed: {}", r.line()),
            }
        }
    }

    /// DATA with `message` (CRLF line endings; dot-stuffed here); returns the
    /// final reply line.
    pub async fn data(&mut self, message: &str) -> Result<String> {
        self.command("DATA", 354).await?;
        let mut body = String::new();
        for line in message.split("\r\n") {
            if line.starts_with('.') {
                body.push('.');
            }
            body.push_str(line);
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        progress!("C: ({} bytes of message) .", body.len());
        self.write(body.as_bytes(), "sending the message").await?;
        let r = self.reply("waiting for the reply to the message").await?;
        if r.code != 250 {
            bail!("message refused: {}", r.line());
        }
        Ok(r.line())
    }

    /// QUIT (best effort) and shut down.
    pub async fn quit(mut self) -> Result<()> {
        let _ = self.command("QUIT", 221).await;
        let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
        Ok(())
    }
}

/// The mechanisms of the EHLO `AUTH` capability (also the old `AUTH=` form).
pub fn auth_mechanisms(ehlo: &Reply) -> Vec<String> {
    let mut mechs: Vec<String> = Vec::new();
    for line in ehlo.lines.iter().skip(1) {
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let rest: Vec<&str> = if keyword.eq_ignore_ascii_case("AUTH") {
            words.collect()
        } else if let Some(first) = keyword
            .get(..5)
            .filter(|k| k.eq_ignore_ascii_case("AUTH="))
            .and_then(|_| keyword.get(5..))
            .filter(|m| !m.is_empty())
        {
            std::iter::once(first).chain(words).collect()
        } else {
            continue;
        };
        for m in rest {
            let m = m.to_ascii_uppercase();
            if !mechs.contains(&m) {
                mechs.push(m);
            }
        }
    }
    mechs
}

/// The whole client run.
pub async fn run(args: &Args) -> Result<Outcome> {
    let tcp = connect(args).await?;
    progress!("connected to {}", args.server);
    let mut conn = Conn::new(tcp, args.timeout);
    let greeting = conn.reply("waiting for the SMTP greeting").await?;
    if greeting.code != 220 {
        bail!("server refused the connection: {}", greeting.line());
    }
    let ehlo = conn.command("EHLO localhost", 250).await?;
    let offered = auth_mechanisms(&ehlo);
    progress!(
        "server SASL mechanisms: {}",
        if offered.is_empty() {
            "none".to_string()
        } else {
            offered.join(" ")
        }
    );

    let mut client = sasl::start(args, "smtp", &offered)?;
    conn.authenticate(&mut client).await?;
    let mechanism = client.mechanism.clone();
    let negotiated = client.negotiated_line();
    progress!("{negotiated}");

    // Everything after AUTH goes through the (possibly protected) stream.
    let session = client.into_session();
    let mut conn = conn.map_stream(|tcp| secure(tcp, session))?;

    let address = if args.user.contains('@') {
        args.user.clone()
    } else {
        format!("{}@{}", args.user, args.host)
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let message_id = format!(
        "sasl-digest-md5.{}.{nanos}@{}",
        std::process::id(),
        args.host
    );
    conn.command(&format!("MAIL FROM:<{address}>"), 250).await?;
    conn.command(&format!("RCPT TO:<{address}>"), 250).await?;
    let message = format!(
        "From: <{address}>\r\nTo: <{address}>\r\nSubject: sasl-digest-md5 SMTP AUTH {mechanism}\r\n\
         Message-ID: <{message_id}>\r\n\r\n\
         Sent by the sasl-digest-md5 SMTP example after AUTH {mechanism}.\r\n"
    );
    let queued = conn.data(&message).await?;
    progress!("sent message <{message_id}> to {address}");
    conn.quit().await?;
    Ok(Outcome {
        mechanism,
        negotiated,
        offered,
        from: address.clone(),
        to: address,
        message_id,
        queued,
    })
}
