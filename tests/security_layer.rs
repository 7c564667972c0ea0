//! Regression tests for the security-layer and stream items of issue 10 ("Secure by
//! default"). Each test is named after the hole it closes; see the section
//! "Security layer and stream (hardening)" of `docs/hostile-inputs.md`.

mod layer_common;
#[path = "common/rsasl.rs"]
mod sessions;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;
use std::time::Duration;

use layer_common::*;
use rsasl::prelude::*;
use rsasl::validate::NoValidation;
use sasl_digest_md5::layer::{self, LayerError, Sealer, Unsealer};
use sasl_digest_md5::mechanism::{ClientPolicy, ServerPolicy};
use sasl_digest_md5::stream::SecureStream;
use sasl_digest_md5::{Cipher, CipherSet, Error, Qop, QopSet, Requirements, Side, SspiStatus};
use sessions::{client_session, server_session, Authenticated, ClientCb, ServerCb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

/// Fails the test instead of hanging when `f` does not complete within 10 s.
async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result after 10 s (deadlock)"))
}

/// Layer halves for a client that advertised `client_maxbuf` and a server that
/// advertised `server_maxbuf`: (client tx, client rx), (server tx, server rx).
fn halves(
    cipher: Option<Cipher>,
    client_maxbuf: u32,
    server_maxbuf: u32,
) -> ((Sealer, Unsealer), (Sealer, Unsealer)) {
    let qop = if cipher.is_some() {
        Qop::AuthConf
    } else {
        Qop::AuthInt
    };
    let c = layer::establish(
        &HA1,
        qop,
        cipher,
        Side::Client,
        server_maxbuf,
        client_maxbuf,
    )
    .unwrap();
    let s = layer::establish(
        &HA1,
        qop,
        cipher,
        Side::Server,
        client_maxbuf,
        server_maxbuf,
    )
    .unwrap();
    (c, s)
}

// rsasl sessions (the mechanism with its policies), authenticated in memory.

/// Authenticated client and server sessions; the client asks for `qop` (with
/// `cipher`) and advertises `client_maxbuf`, the server advertises 65536.
fn rsasl_sessions(
    qop: Qop,
    cipher: Option<Cipher>,
    client_maxbuf: u32,
) -> (Session<NoValidation>, Session<Authenticated>) {
    let requirements = match qop {
        Qop::Auth => Requirements::MUTUAL_AUTH,
        Qop::AuthInt => Requirements::INTEGRITY,
        Qop::AuthConf => Requirements::CONFIDENTIALITY,
    };
    let cpol = ClientPolicy {
        requirements,
        max_qop: qop,
        ciphers: cipher.map(|c| vec![c]),
        maxbuf: client_maxbuf,
        ..ClientPolicy::default()
    };
    let spol = ServerPolicy {
        realms: vec!["example.com".into()],
        qops: QopSet::ALL,
        ciphers: CipherSet::ALL,
        ..ServerPolicy::default()
    };
    let mut client = client_session(ClientCb {
        password: "secret",
        policy: cpol,
        ..ClientCb::default()
    });
    let mut server = server_session(ServerCb::new(spol, |user| {
        (user == "alice").then_some("secret")
    }));
    let mut challenge = Vec::new();
    server.step(None, &mut challenge).unwrap();
    let mut response = Vec::new();
    client.step(Some(&challenge), &mut response).unwrap();
    let mut rspauth = Vec::new();
    server.step(Some(&response), &mut rspauth).unwrap();
    client.step(Some(&rspauth), &mut Vec::new()).unwrap();
    (client, server)
}

// ---------------------------------------------------------------------------------
// Item 4: sequence numbers must not wrap at 2^32.

#[test]
fn sequence_exhausted_refuses_seal_and_unseal_past_2_pow_32_minus_1() {
    for (qop, cipher) in CONFIGS {
        let mut p = pipe(qop, cipher, Side::Client, 4096);
        p.tx.set_sequence_number_for_testing(u32::MAX);
        p.rx.set_sequence_number_for_testing(u32::MAX);

        // The last number is still usable, in both halves.
        let mut last = Vec::new();
        p.tx.seal(b"last", &mut last).unwrap();
        assert_eq!(&last[last.len() - 4..], &u32::MAX.to_be_bytes());
        let mut out = Vec::new();
        p.rx.unseal(&last, &mut out).unwrap();
        assert_eq!(out, b"last");
        assert!(p.tx.is_exhausted() && p.rx.is_exhausted());

        // Sealing more is refused, with nothing written, in every entry point.
        let mut wire = Vec::new();
        assert_eq!(
            p.tx.seal(b"x", &mut wire),
            Err(LayerError::SequenceExhausted)
        );
        assert_eq!(
            p.tx.seal_frame(b"x", &mut wire),
            Err(LayerError::SequenceExhausted)
        );
        let mut in_place = b"x".to_vec();
        assert_eq!(
            p.tx.seal_in_place(&mut in_place),
            Err(LayerError::SequenceExhausted)
        );
        assert_eq!(in_place, b"x");
        assert!(wire.is_empty());

        // The replay that a wrap would have allowed: frame #0 of this direction
        // (valid MAC, seq 0) after 2^32 messages. Refused, in both unseal entry points.
        let mut fresh = pipe(qop, cipher, Side::Client, 4096);
        let mut frame0 = Vec::new();
        fresh.tx.seal(b"frame #0", &mut frame0).unwrap();
        let mut rx2 = pipe(qop, cipher, Side::Client, 4096).rx;
        rx2.set_sequence_number_for_testing(u32::MAX);
        rx2.unseal(&last, &mut Vec::new()).unwrap();
        assert_eq!(
            rx2.unseal_in_place(&mut frame0.clone()),
            Err(LayerError::SequenceExhausted)
        );
        assert_eq!(
            p.rx.unseal(&frame0, &mut out),
            Err(LayerError::SequenceExhausted),
            "{qop} {cipher:?}"
        );
        assert_eq!(out, b"last", "nothing appended");
        assert!(p.rx.is_poisoned());
    }
}

#[test]
fn sequence_exhausted_says_reauthenticate_and_maps_to_context_expired() {
    let e = LayerError::SequenceExhausted;
    assert!(e.to_string().contains("reauthenticate"), "{e}");
    assert_eq!(Error::from(e).status(), SspiStatus::SEC_E_CONTEXT_EXPIRED);
    // Distinct from an out-of-order message, which is SEC_E_OUT_OF_SEQUENCE.
    let mismatch = LayerError::SequenceMismatch {
        expected: 1,
        got: 0,
    };
    assert_eq!(
        Error::from(mismatch).status(),
        SspiStatus::SEC_E_OUT_OF_SEQUENCE
    );
}

#[test]
fn sequence_exhausted_is_not_reached_early() {
    // 2^32 - 2 -> 2^32 - 1 is an ordinary step, not exhaustion.
    let (mut tx, _) = layer::establish(
        &HA1,
        Qop::AuthConf,
        Some(Cipher::Des),
        Side::Server,
        4096,
        4096,
    )
    .unwrap();
    tx.set_sequence_number_for_testing(u32::MAX - 1);
    tx.seal(b"a", &mut Vec::new()).unwrap();
    assert!(!tx.is_exhausted());
    assert_eq!(tx.sequence_number(), u32::MAX);
    tx.seal(b"b", &mut Vec::new()).unwrap();
    assert!(tx.is_exhausted());
}

// ---------------------------------------------------------------------------------
// Item 9: one source of truth for the stream reader's frame size limit.

/// A frame announcing one byte more than the unsealer's own maxbuf is refused as soon
/// as its 4-byte prefix arrives (nothing else is sent, the connection stays open: a
/// reader with a larger limit of its own would wait for the body forever), and a
/// genuine frame of exactly that maxbuf is accepted.
#[tokio::test]
async fn stream_frame_limit_is_the_unsealers_own_maxbuf() {
    for cipher in [None, Some(Cipher::Rc4), Some(Cipher::Des)] {
        // Genuine frames of the largest size the peer may send (wire = 1006 bytes, a multiple of 8 plus 6 for DES).
        let ((_, crx), (mut stx, _)) = halves(cipher, 1006, 4096);
        let (ctx, _) = halves(cipher, 1006, 4096).0;
        let big = vec![0x5a; stx.max_plaintext_len()];
        let mut frame = Vec::new();
        stx.seal_frame(&big, &mut frame).unwrap();
        assert_eq!(frame.len(), 4 + 1006, "{cipher:?}");
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut client = SecureStream::new(a, ctx, crx);
        b.write_all(&frame).await.unwrap();
        let mut got = vec![0u8; big.len()];
        within("genuine frame", client.read_exact(&mut got))
            .await
            .unwrap();
        assert_eq!(got, big);

        // One byte above: refused on the prefix alone.
        b.write_all(&1007u32.to_be_bytes()).await.unwrap();
        let e = within("oversized prefix", client.read(&mut got))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<LayerError>());
        assert_eq!(
            inner,
            Some(&LayerError::FrameTooLarge {
                len: 1007,
                max: 1006
            })
        );
        drop(b);
    }
}

/// The same through an rsasl session: the limit is the maxbuf of the mechanism's
/// policy (2048 here), not an argument of the stream.
#[tokio::test]
async fn stream_frame_limit_is_the_sessions_policy_maxbuf() {
    let (client, mut server) = rsasl_sessions(Qop::AuthConf, Some(Cipher::Rc4), 2048);
    // The server seals up to the client's maxbuf: a 2048-byte wire message.
    let msg = vec![7u8; 2048 - 16];
    let mut frame = Vec::new();
    assert_eq!(server.encode(&msg, &mut frame).unwrap(), msg.len());
    assert_eq!(frame.len(), 4 + 2048);
    let (a, mut b) = tokio::io::duplex(1 << 16);
    let mut secure = SecureStream::with_session(a, client).unwrap();
    b.write_all(&frame).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    within("genuine frame", secure.read_exact(&mut got))
        .await
        .unwrap();
    assert_eq!(got, msg);

    b.write_all(&2049u32.to_be_bytes()).await.unwrap();
    let e = within("oversized prefix", secure.read(&mut got))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("2049"), "{e}");
}

#[tokio::test]
async fn with_session_without_a_layer_is_invalid_input() {
    let (client, server) = rsasl_sessions(Qop::Auth, None, 65536);
    assert!(!client.has_security_layer());
    let (a, b) = tokio::io::duplex(64);
    let e = SecureStream::with_session(a, client)
        .err()
        .expect("accepted a session without a layer");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = SecureStream::with_session(b, server)
        .err()
        .expect("accepted a session without a layer");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

// ---------------------------------------------------------------------------------
// Item 10: a write that is not flushed must not stay behind in the stream's buffer.

/// A connected pair of TCP sockets on 127.0.0.1 with small send and receive buffers
/// (a few KiB, far below one 64 KiB frame), so that writes find the socket full.
async fn small_buffer_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let socket = || {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.set_send_buffer_size(4096).unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        s
    };
    let l = socket();
    l.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = l.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let (c, s) = tokio::join!(socket().connect(addr), listener.accept());
    (c.unwrap(), s.unwrap().0)
}

/// Both sides write a message larger than the socket buffers with `write_all` and no
/// flush, then read: the client sends a request and reads the response; the server
/// (which starts reading late, so the client's socket is full) reads the request,
/// sends the response and reads until the client closes. Before the fix
/// `poll_write` reported a frame as written while part of it still sat in the
/// stream's buffer, so each side waited for a tail that was never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unflushed_write_then_read_over_a_small_send_buffer_completes() {
    for cipher in [None, Some(Cipher::Rc4), Some(Cipher::TripleDes)] {
        let (c_sock, s_sock) = small_buffer_pair().await;
        let ((ctx, crx), (stx, srx)) = halves(cipher, 65536, 65536);
        // Two frames each: one full 64 KiB frame and a shorter one.
        let request: Vec<u8> = (0..100_000u32).map(|i| (i * 13) as u8).collect();
        let response: Vec<u8> = (0..90_000u32).map(|i| (i * 7 + 1) as u8).collect();
        let (req, rsp) = (request.clone(), response.clone());
        let client = tokio::spawn(async move {
            let mut s = SecureStream::new(c_sock, ctx, crx);
            s.write_all(&req).await.unwrap(); // no flush
            let mut got = vec![0u8; rsp.len()];
            s.read_exact(&mut got).await.unwrap();
            assert!(got == rsp, "response garbled");
            s.shutdown().await.unwrap();
        });
        let server = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut s = SecureStream::new(s_sock, stx, srx);
            let mut got = vec![0u8; request.len()];
            s.read_exact(&mut got).await.unwrap();
            assert!(got == request, "request garbled");
            s.write_all(&response).await.unwrap(); // no flush
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
        });
        within(&format!("{cipher:?}"), async {
            client.await.unwrap();
            server.await.unwrap();
        })
        .await;
    }
}

/// An inner writer that takes 10 bytes, then is not ready once, then takes anything.
struct StallsOnce {
    sink: Vec<u8>,
    stalled: bool,
}

impl tokio::io::AsyncWrite for StallsOnce {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        if !self.sink.is_empty() && !self.stalled {
            self.stalled = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        let n = if self.sink.is_empty() {
            buf.len().min(10)
        } else {
            buf.len()
        };
        self.sink.extend_from_slice(&buf[..n]);
        std::task::Poll::Ready(Ok(n))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// `poll_write` stays Pending until its frame is handed on; the retry (even after a
/// flush in between sent the frame) reports the bytes without sealing them twice.
#[tokio::test]
async fn unflushed_write_is_pending_until_its_frame_is_sent_and_sealed_once() {
    use std::pin::Pin;
    use std::task::Poll;
    use tokio::io::AsyncWrite;
    let ((mut tx, _), (_, mut rx)) = halves(Some(Cipher::Rc4), 4096, 4096);
    let mut expected = Vec::new();
    let mut w = sasl_digest_md5::stream::SecureWriter::new(
        StallsOnce {
            sink: Vec::new(),
            stalled: false,
        },
        halves(Some(Cipher::Rc4), 4096, 4096).0 .0,
    );
    let msg = b"a request that does not fit in ten bytes";
    tx.seal_frame(msg, &mut expected).unwrap(); // what the writer's own sealer produces
    std::future::poll_fn(|cx| {
        assert!(Pin::new(&mut w).poll_write(cx, msg).is_pending());
        assert_eq!(w.get_ref().sink.len(), 10);
        assert!(matches!(
            Pin::new(&mut w).poll_flush(cx),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(w.get_ref().sink, expected);
        assert!(matches!(
            Pin::new(&mut w).poll_write(cx, msg),
            Poll::Ready(Ok(n)) if n == msg.len()
        ));
        Poll::Ready(())
    })
    .await;
    assert_eq!(w.get_ref().sink, expected, "sealed once");
    let mut plain = Vec::new();
    rx.unseal(&expected[4..], &mut plain).unwrap();
    assert_eq!(plain, msg);
}

// ---------------------------------------------------------------------------------
// Item 8: secrets and plaintext are wiped.

/// A 16-byte pattern that only the plaintext of the messages below contains.
const MARKER: &[u8; 16] = b"\xa7PLAINTEXT\x5c\x91\x03\xee\x18\x42";

thread_local! {
    /// While set, every heap block freed (or moved by realloc) on this thread is
    /// searched for MARKER before it goes back to the system.
    static SCANNING: Cell<bool> = const { Cell::new(false) };
    static RESIDUES: Cell<usize> = const { Cell::new(0) };
}

struct ScanningAllocator;

impl ScanningAllocator {
    /// # Safety
    /// `ptr` points to a live block of `size` bytes.
    unsafe fn scan(ptr: *mut u8, size: usize) {
        if SCANNING.try_with(Cell::get).unwrap_or(false) {
            // SAFETY: the block is still allocated; its bytes were written by the
            // program before (Vec spare capacity only holds earlier contents or zeroes
            // of a zeroed allocation, never uninitialised reads that matter here).
            let block = unsafe { std::slice::from_raw_parts(ptr, size) };
            if block.windows(MARKER.len()).any(|w| w == MARKER) {
                let _ = RESIDUES.try_with(|r| r.set(r.get() + 1));
            }
        }
    }
}

unsafe impl GlobalAlloc for ScanningAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Zeroed, so that scanning a block never reads uninitialised memory.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            Self::scan(ptr, layout.size());
            let new =
                System.alloc_zeroed(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                System.dealloc(ptr, layout);
            }
            new
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe {
            Self::scan(ptr, layout.size());
            System.dealloc(ptr, layout)
        }
    }
}

#[global_allocator]
static GLOBAL: ScanningAllocator = ScanningAllocator;

/// Runs `f` with freed heap blocks scanned for MARKER; returns how many held it.
fn residues_after(f: impl FnOnce()) -> usize {
    RESIDUES.with(|r| r.set(0));
    SCANNING.with(|s| s.set(true));
    f();
    SCANNING.with(|s| s.set(false));
    RESIDUES.with(Cell::get)
}

/// The plaintext: MARKER many times (in a buffer wiped on drop, like every test-side
/// copy below).
fn secret_message() -> Zeroizing<Vec<u8>> {
    Zeroizing::new(MARKER.repeat(200))
}

#[test]
fn scanning_allocator_sees_an_unwiped_buffer() {
    // The detector works: a plain Vec holding the marker is found when freed.
    let found = residues_after(|| {
        let v = std::hint::black_box(MARKER.repeat(3));
        drop(v);
    });
    assert_eq!(found, 1);
    assert_eq!(residues_after(|| drop(secret_message())), 0);
}

#[test]
fn frame_decoder_buffer_is_wiped() {
    for cipher in [
        Some(Cipher::Rc4),
        Some(Cipher::Des),
        Some(Cipher::TripleDes),
    ] {
        let found = residues_after(|| {
            let ((mut tx, _), (_, mut rx)) = halves(cipher, 65536, 65536);
            let msg = secret_message();
            let mut stream = Vec::new();
            tx.seal_frame(&msg, &mut stream).unwrap();
            tx.seal_frame(&msg, &mut stream).unwrap();
            let mut dec = layer::FrameDecoder::new(65536).unwrap();
            let mut rest = &stream[..];
            let mut frames = 0;
            while !rest.is_empty() {
                let (used, frame) = dec.feed(rest).unwrap();
                rest = &rest[used..];
                if let Some(frame) = frame {
                    // Unsealed in place: the plaintext is in the decoder's buffer.
                    let n = rx.unseal_in_place(frame).unwrap();
                    assert!(frame[..n] == msg[..]);
                    frames += 1;
                }
            }
            assert_eq!(frames, 2);
            dec.reset();
            drop(dec);
        });
        assert_eq!(
            found, 0,
            "{cipher:?}: plaintext left in a freed FrameDecoder buffer"
        );
    }
}

#[test]
fn stream_plaintext_buffers_are_wiped() {
    let found = residues_after(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let ((ctx, crx), (stx, srx)) = halves(Some(Cipher::Rc4), 65536, 65536);
            let (a, b) = tokio::io::duplex(1 << 20);
            let mut client = SecureStream::new(a, ctx, crx);
            let mut server = SecureStream::new(b, stx, srx);
            let msg = secret_message();
            client.write_all(&msg).await.unwrap();
            let mut got = Zeroizing::new(vec![0u8; msg.len() / 2]);
            // Half of it: the rest stays in the reader's plaintext buffer.
            server.read_exact(&mut got).await.unwrap();
            assert!(got[..] == msg[..got.len()]);
            drop((client, server));
        });
        drop(rt);
    });
    assert_eq!(found, 0, "plaintext left in a freed stream buffer");
}

#[test]
fn mechanism_scratch_buffer_is_wiped() {
    for cipher in [Cipher::Rc4, Cipher::Des] {
        let found = residues_after(|| {
            let (mut client, mut server) = rsasl_sessions(Qop::AuthConf, Some(cipher), 65536);
            let msg = secret_message();
            let mut frame = Vec::new();
            assert_eq!(client.encode(&msg, &mut frame).unwrap(), msg.len());
            let mut out = Zeroizing::new(Vec::with_capacity(msg.len()));
            server.decode(&frame, &mut *out).unwrap();
            assert!(out[..] == msg[..]);
            drop((client, server));
        });
        assert_eq!(
            found, 0,
            "{cipher}: plaintext left in a freed mechanism buffer"
        );
    }
}

#[test]
fn secret_comparison_is_constant_time_and_correct() {
    use sasl_digest_md5::digest::{secret, Secret};
    let a = secret("alice", "example.com", "secret");
    assert_eq!(a, secret("alice", "example.com", "secret"));
    assert_ne!(a, secret("alice", "example.com", "secreT"));
    let mut first = *a.as_bytes();
    first[0] ^= 1;
    let mut last = *a.as_bytes();
    last[15] ^= 0x80;
    assert_ne!(a, Secret::from_bytes(first));
    assert_ne!(a, Secret::from_bytes(last));
    assert_eq!(a, Secret::from_bytes(*a.as_bytes()));
}
