//! XMPP client plumbing (RFC 6120): stream open to the `--host` domain,
//! features, `<auth>`, `<challenge>`/`<response>`, `<success>` (extra data
//! after the mechanism has finished is ignored: Prosody sends junk there),
//! stream restart over the stream returned by [`super::secure`], resource
//! binding.
//!
//! XML is parsed incrementally with `quick-xml`'s async reader into a small
//! element tree; this module runs the stream logic over any
//! `AsyncRead + AsyncWrite` stream.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use quick_xml::escape::{escape, unescape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use tokio::io::{AsyncWriteExt, BufReader};

use super::sasl;
use super::{connect, secure, timed, Args, AsyncStream, Error, Result};

pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// Resource requested when binding.
pub const RESOURCE: &str = "sasl-digest-md5";

/// What a run of the XMPP client found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mechanism: String,
    pub negotiated: String,
    /// The JID the server bound, e.g. `alice@localhost/sasl-digest-md5`.
    pub jid: String,
    /// Bytes of additional data in `<success>` that were ignored because the
    /// mechanism had already finished (Prosody's junk).
    pub ignored_success_data: usize,
}

/// A parsed XML element (local names; `xmlns` kept as an attribute).
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    fn from_start(s: &BytesStart) -> Result<Element> {
        let name = s.local_name().as_ref().to_string();
        let mut attrs = Vec::new();
        for a in s.attributes() {
            let a = a.map_err(|e| Error(format!("bad XML attribute: {e}")))?;
            let v = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| Error(format!("bad XML attribute value: {e}")))?;
            attrs.push((a.key.local_name().as_ref().to_string(), v.into_owned()));
        }
        Ok(Element {
            name,
            attrs,
            ..Default::default()
        })
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// An XMPP connection over any stream.
pub struct Conn<S> {
    reader: Reader<BufReader<S>>,
    buf: Vec<u8>,
    timeout: Duration,
    domain: String,
}

impl<S: AsyncStream> Conn<S> {
    pub fn new(stream: S, domain: &str, timeout: Duration) -> Self {
        Conn {
            reader: Reader::from_reader(BufReader::new(stream)),
            buf: Vec::new(),
            timeout,
            domain: domain.to_string(),
        }
    }

    /// A fresh XML parser on the same byte stream (stream restart).
    fn restart_parser(self) -> Self {
        Conn {
            reader: Reader::from_reader(self.reader.into_inner()),
            ..self
        }
    }

    /// Continue on another stream (after `<success>`: the sealed one).
    pub fn map_stream<T: AsyncStream>(self, f: impl FnOnce(S) -> Result<T>) -> Result<Conn<T>> {
        let buffered = self.reader.into_inner();
        if !buffered.buffer().is_empty() {
            bail!(
                "server sent {} unexpected bytes right after <success/>",
                buffered.buffer().len()
            );
        }
        Ok(Conn::new(
            f(buffered.into_inner())?,
            &self.domain,
            self.timeout,
        ))
    }

    pub async fn send(&mut self, xml: &str) -> Result<()> {
        let t = self.timeout;
        let w = self.reader.get_mut();
        timed(t, "sending XMPP data", w.write_all(xml.as_bytes())).await?;
        timed(t, "sending XMPP data", w.flush()).await
    }

    async fn next_event(&mut self) -> Result<Event<'static>> {
        self.buf.clear();
        let t = self.timeout;
        let ev = timed(
            t,
            "waiting for XMPP data",
            self.reader.read_event_into_async(&mut self.buf),
        )
        .await?;
        Ok(ev.into_owned())
    }

    /// Send the stream header and read the server's; returns its attributes.
    pub async fn open_stream(&mut self) -> Result<Element> {
        let header = format!(
            "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams'>",
            escape(self.domain.as_str())
        );
        progress!("C: <stream:stream to='{}'>", self.domain);
        self.send(&header).await?;
        loop {
            match self.next_event().await? {
                Event::Start(s) if s.local_name().as_ref() == "stream" => {
                    let e = Element::from_start(&s)?;
                    progress!(
                        "S: <stream:stream from='{}' id='{}'>",
                        e.attr("from").unwrap_or(""),
                        e.attr("id").unwrap_or("")
                    );
                    return Ok(e);
                }
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
                Event::Text(t) if t.xml10_content().trim().is_empty() => {}
                Event::Eof => bail!("connection closed by the server before the stream header"),
                other => bail!("unexpected XML before the stream header: {other:?}"),
            }
        }
    }

    /// Read the next top-level element of the stream; fails on a stream
    /// error, the end of the stream, or EOF.
    pub async fn read_element(&mut self) -> Result<Element> {
        let mut stack: Vec<Element> = Vec::new();
        loop {
            let done = match self.next_event().await? {
                Event::Start(s) => {
                    stack.push(Element::from_start(&s)?);
                    None
                }
                Event::Empty(s) => Some(Element::from_start(&s)?),
                Event::End(e) => match stack.pop() {
                    Some(el) => Some(el),
                    None if e.local_name().as_ref() == "stream" => {
                        bail!("server closed the XMPP stream")
                    }
                    None => bail!("unexpected XML end tag"),
                },
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                    None
                }
                Event::CData(c) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&c.xml10_content());
                    }
                    None
                }
                Event::GeneralRef(r) => {
                    if let Some(top) = stack.last_mut() {
                        let name = r.into_inner();
                        let s = unescape(&format!("&{name};"))
                            .map_err(|e| Error(format!("bad XML entity '&{name};': {e}")))?
                            .into_owned();
                        top.text.push_str(&s);
                    }
                    None
                }
                Event::Eof => bail!("connection closed by the server"),
                _ => None,
            };
            if let Some(el) = done {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => {
                        if el.name == "error" {
                            let cond = el
                                .children
                                .iter()
                                .find(|c| c.name != "text")
                                .map_or("", |c| c.name.as_str());
                            let text = el.child("text").map_or("", |t| t.text.as_str());
                            bail!("XMPP stream error: {cond} {text}");
                        }
                        return Ok(el);
                    }
                }
            }
        }
    }

    /// Read `<stream:features>`.
    pub async fn features(&mut self) -> Result<Element> {
        let el = self.read_element().await?;
        if el.name != "features" {
            bail!("expected <stream:features>, got <{}>", el.name);
        }
        let names: Vec<&str> = el.children.iter().map(|c| c.name.as_str()).collect();
        progress!("S: <stream:features> {}", names.join(" "));
        Ok(el)
    }

    /// SASL negotiation (RFC 6120 §6). Returns the number of ignored bytes
    /// of `<success>` data.
    pub async fn authenticate(&mut self, client: &mut sasl::Client) -> Result<usize> {
        let mech = client.mechanism.clone();
        let mut finished = false;
        if client.client_first() {
            let s = client.step(None)?;
            finished = s.finished;
            let ir = s.output.unwrap_or_default();
            // A zero-length initial response is sent as "=".
            let body = if ir.is_empty() {
                "=".to_string()
            } else {
                B64.encode(&ir)
            };
            progress!("C: <auth mechanism='{mech}'> ({} bytes)", ir.len());
            self.send(&format!(
                "<auth xmlns='{NS_SASL}' mechanism='{}'>{body}</auth>",
                escape(mech.as_str())
            ))
            .await?;
        } else {
            progress!("C: <auth mechanism='{mech}'/>");
            self.send(&format!(
                "<auth xmlns='{NS_SASL}' mechanism='{}'/>",
                escape(mech.as_str())
            ))
            .await?;
        }
        loop {
            let el = self.read_element().await?;
            match el.name.as_str() {
                "challenge" => {
                    let data = decode_b64(&el.text)?;
                    progress!("S: <challenge> ({} bytes)", data.len());
                    let out = if finished {
                        if !data.is_empty() {
                            bail!("server sent a challenge after {mech} finished");
                        }
                        Vec::new()
                    } else {
                        let s = client.step(Some(&data))?;
                        finished = s.finished;
                        // Finished without a message (DIGEST-MD5 after
                        // verifying rspauth): an empty <response/>.
                        s.output.unwrap_or_default()
                    };
                    progress!("C: <response> ({} bytes)", out.len());
                    if out.is_empty() {
                        self.send(&format!("<response xmlns='{NS_SASL}'/>")).await?;
                    } else {
                        self.send(&format!(
                            "<response xmlns='{NS_SASL}'>{}</response>",
                            B64.encode(&out)
                        ))
                        .await?;
                    }
                }
                "success" => {
                    let data = decode_b64(&el.text).unwrap_or_default();
                    let raw_len = el.text.trim().len();
                    if finished {
                        // Additional data after the mechanism finished is
                        // ignored (Prosody sends ~22 KB of junk here).
                        if raw_len > 0 {
                            progress!(
                                "S: <success> ({raw_len} characters of additional data, ignored)"
                            );
                        } else {
                            progress!("S: <success/>");
                        }
                        return Ok(raw_len);
                    }
                    progress!("S: <success> ({} bytes of additional data)", data.len());
                    let s = client.step(if data.is_empty() { None } else { Some(&data) })?;
                    if !s.finished || s.output.as_ref().is_some_and(|o| !o.is_empty()) {
                        bail!("server sent <success/> but {mech} expects more");
                    }
                    return Ok(0);
                }
                "failure" => {
                    let cond = el
                        .children
                        .iter()
                        .find(|c| c.name != "text")
                        .map_or("unknown", |c| c.name.as_str());
                    let text = el.child("text").map_or("", |t| t.text.trim());
                    bail!(
                        "SASL {mech} authentication failed: {cond}{}{text}",
                        if text.is_empty() { "" } else { ": " }
                    );
                }
                other => bail!("unexpected <{other}> during SASL negotiation"),
            }
        }
    }

    /// Resource binding (RFC 6120 §7); returns the bound JID.
    pub async fn bind(&mut self, resource: &str) -> Result<String> {
        progress!("C: <iq type='set'><bind><resource>{resource}</resource></bind></iq>");
        self.send(&format!(
            "<iq type='set' id='bind_1'><bind xmlns='{NS_BIND}'><resource>{}</resource></bind></iq>",
            escape(resource)
        ))
        .await?;
        loop {
            let el = self.read_element().await?;
            if el.name != "iq" || el.attr("id") != Some("bind_1") {
                progress!("S: <{}> (ignored)", el.name);
                continue;
            }
            match el.attr("type") {
                Some("result") => {
                    let jid = el
                        .child("bind")
                        .and_then(|b| b.child("jid"))
                        .map(|j| j.text.trim().to_string())
                        .filter(|j| !j.is_empty());
                    match jid {
                        Some(j) => return Ok(j),
                        None => bail!("bind result without a JID"),
                    }
                }
                _ => {
                    let cond = el
                        .child("error")
                        .and_then(|e| e.children.iter().find(|c| c.name != "text"))
                        .map_or("unknown", |c| c.name.as_str());
                    bail!("resource binding failed: {cond}");
                }
            }
        }
    }

    /// Close the stream (best effort) and shut down.
    pub async fn close(mut self) -> Result<()> {
        let _ = self.send("</stream:stream>").await;
        let t = self.timeout.min(Duration::from_secs(2));
        let _ = tokio::time::timeout(t, async { while self.read_element().await.is_ok() {} }).await;
        let _ = tokio::time::timeout(t, self.reader.get_mut().shutdown()).await;
        Ok(())
    }
}

fn decode_b64(text: &str) -> Result<Vec<u8>> {
    let t = text.trim();
    if t.is_empty() || t == "=" {
        return Ok(Vec::new());
    }
    B64.decode(t)
        .map_err(|e| Error(format!("bad base64 from the server: {e}")))
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
    let mut conn = Conn::new(tcp, &args.host, args.timeout);
    conn.open_stream().await?;
    let features = conn.features().await?;
    let offered: Vec<String> = features
        .child("mechanisms")
        .map(|m| {
            m.children
                .iter()
                .filter(|c| c.name == "mechanism")
                .map(|c| c.text.trim().to_ascii_uppercase())
                .collect()
        })
        .unwrap_or_default();
    progress!("server SASL mechanisms: {}", offered.join(" "));

    let mut client = sasl::start_with(args, "xmpp", &offered, mechanisms)?;
    let ignored_success_data = conn.authenticate(&mut client).await?;
    let mechanism = client.mechanism.clone();
    let negotiated = client.negotiated_line();
    progress!("{negotiated}");

    // Stream restart over the (possibly sealed) stream.
    let session = client.into_session();
    let mut conn = conn
        .map_stream(|tcp| secure(tcp, session))?
        .restart_parser();
    conn.open_stream().await?;
    let features = conn.features().await?;
    if features.child("bind").is_none() {
        bail!("server offers no resource binding after authentication");
    }
    let jid = conn.bind(RESOURCE).await?;
    progress!("bound JID: {jid}");
    conn.close().await?;
    Ok(Outcome {
        mechanism,
        negotiated,
        jid,
        ignored_success_data,
    })
}
