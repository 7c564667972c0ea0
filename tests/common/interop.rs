//! What the live interop tests (`interop_cyrus.rs`, `interop_jdk.rs`) share: starting a
//! peer in a role, the token steps of an authentication against it, and the checks
//! on the security layer that do not depend on how the peer frames messages.
#![allow(dead_code)]

use sasl_digest_md5::layer::{LayerError, Sealer, Unsealer};
use sasl_digest_md5::{ClientContext, Error, Qop, ServerContext, Step};

use super::peer::{b64, plain, unb64, Peer};
use super::{strs, HOST, SERVICE};

/// Why an authentication did not complete.
#[derive(Debug)]
pub enum Failure {
    /// The peer printed this `FAIL ...` line.
    Peer(String),
    /// Our context returned this error.
    Ours(Error),
}

/// The peer's arguments for `role` (`client` or `server`) on `ldap/ldap.example.com`,
/// followed by `extra`.
pub fn role_args(role: &str, extra: &[String]) -> Vec<String> {
    let mut args = strs(&["--role", role, "--service", SERVICE, "--host", HOST]);
    args.extend_from_slice(extra);
    args
}

/// The payload of a `TOKEN <b64>` line; any other line fails the test.
pub fn token_of(peer: &Peer, line: &str) -> Vec<u8> {
    match line.strip_prefix("TOKEN ") {
        Some(t) => unb64(t),
        None => peer.fail(&format!("expected `TOKEN <b64>`, got `{line:.200}`")),
    }
}

/// Sends `TOKEN <b64>` and returns the answer; a `FAIL ...` answer is the peer's
/// failure.
pub fn send_token(peer: &mut Peer, token: &[u8]) -> Result<String, Failure> {
    let line = peer.cmd(&format!("TOKEN {}", b64(token)));
    if line.starts_with("FAIL") {
        return Err(Failure::Peer(line));
    }
    Ok(line)
}

/// Our client's response to the peer's challenge (it must not complete on it).
pub fn our_response(
    client: &mut ClientContext,
    peer: &Peer,
    challenge: &[u8],
) -> Result<Vec<u8>, Failure> {
    match client.step(Some(challenge)).map_err(Failure::Ours)? {
        Step::Continue(r) => Ok(r),
        other => peer.fail(&format!("our client completed on the challenge: {other:?}")),
    }
}

/// Our client given the peer's rspauth: it must complete.
pub fn our_client_finishes(
    client: &mut ClientContext,
    peer: &Peer,
    rspauth: &[u8],
) -> Result<(), Failure> {
    match client.step(Some(rspauth)).map_err(Failure::Ours)? {
        Step::Complete(None) => Ok(()),
        other => peer.fail(&format!(
            "our client did not complete on rspauth: {other:?}"
        )),
    }
}

/// Our server's first challenge.
pub fn our_challenge(server: &mut ServerContext, peer: &Peer) -> Result<Vec<u8>, Failure> {
    match server.step(None).map_err(Failure::Ours)? {
        Step::Continue(c) => Ok(c),
        other => peer.fail(&format!("our server did not challenge: {other:?}")),
    }
}

/// The message sizes sent each way, as `(ours, theirs)`: 1, 7, 8, 9 and 1000 bytes,
/// then the largest each side may send.
pub fn exchange_sizes(our_max: usize, peer_max: usize) -> [(usize, usize); 6] {
    [
        (1, 1),
        (7, 7),
        (8, 8),
        (9, 9),
        (1000, 1000),
        (our_max, peer_max),
    ]
}

/// One byte more than the largest message: we refuse to seal it (typed, the
/// sequence number unchanged, nothing written), with `seal_frame` if `framed`, else
/// with `seal`.
pub fn assert_one_more_than_the_largest_is_refused(tx: &mut Sealer, framed: bool) {
    let our_max = tx.max_plaintext_len();
    let seq = tx.sequence_number();
    let mut v = Vec::new();
    let p = plain(our_max + 1, 0);
    let r = if framed {
        tx.seal_frame(&p, &mut v)
    } else {
        tx.seal(&p, &mut v)
    };
    match r {
        Err(LayerError::MessageTooLarge { len, max }) => {
            assert_eq!((len, max), (our_max + 1, our_max))
        }
        other => panic!("sealing maxbuf+1: {other:?}"),
    }
    assert_eq!(tx.sequence_number(), seq);
    assert!(v.is_empty());
}

/// qop=auth: our side has no layer to give.
pub fn assert_no_layer(layer: Result<(Sealer, Unsealer), Error>) {
    assert!(
        matches!(
            layer,
            Err(Error::Layer(LayerError::NoSecurityLayer(Qop::Auth)))
        ),
        "{:?}",
        layer.err()
    );
}
