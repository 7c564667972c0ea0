//! Helpers shared by the fuzz targets: input splitting, client policies derived from
//! a byte, and digest fix-ups that let the fuzzer get past the password proof.

use rsasl::prelude::SessionError;
use sasl_digest_md5::digest::{self, DigestInput};
use sasl_digest_md5::layer::Sealer;
use sasl_digest_md5::wire::Response;
use sasl_digest_md5::{Cipher, ClientConfig, Credential, Qop, Requirements, Target};

/// The password every fuzz user has (the server store and the client agree on it).
pub const PASSWORD: &str = "secret";

/// Splits the input into tokens at NUL bytes (a NUL is never valid inside a token, so
/// this loses nothing but the NUL-byte error path, which the parser targets cover).
pub fn tokens(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == 0).collect()
}

/// A client policy chosen by one byte. Returns the config, the weakest qop it may end
/// up with and its cipher strength floor.
pub fn client_config(sel: u8) -> (ClientConfig, Qop, u32) {
    let target = Target::new("ldap", "ldap.example.com").expect("valid target");
    let mut c = ClientConfig::new("alice", Credential::password(PASSWORD), target)
        .danger_fixed_cnonce(&b"fuzz-cnonce"[..]);
    let req = match sel & 3 {
        0 => Requirements::NONE,
        1 => Requirements::INTEGRITY,
        2 => Requirements::CONFIDENTIALITY,
        _ => Requirements::REPLAY_DETECT | Requirements::SEQUENCE_DETECT,
    };
    c = c.requirements(req);
    if sel & 4 != 0 {
        c = c.max_qop(Qop::AuthConf);
    }
    let floor = match (sel >> 3) & 3 {
        0 => 0,
        1 => 56,
        2 => 112,
        _ => 128,
    };
    c = c.min_cipher_strength(floor);
    if sel & 0x20 != 0 {
        c = c.ciphers(&[Cipher::Des, Cipher::Rc4_40]);
    }
    if sel & 0x40 != 0 {
        c = c.authzid("bob").maxbuf(17);
    }
    (c, req.min_qop(), floor)
}

/// The inputs of the digest for a parsed response.
pub fn input_of(r: &Response) -> DigestInput<'_> {
    DigestInput {
        nonce: &r.nonce,
        cnonce: &r.cnonce,
        nc: r.nc,
        qop: r.qop,
        digest_uri: r.digest_uri.as_bytes(),
    }
}

/// `response` or `rspauth` value for `r`, computed with [`PASSWORD`].
pub fn digest_for(r: &Response, rspauth: bool) -> [u8; 32] {
    let secret = digest::secret(&r.username, r.realm.as_deref().unwrap_or(""), PASSWORD);
    let input = input_of(r);
    let key = digest::session_key(&secret, &input, r.authzid.as_deref().map(str::as_bytes));
    digest::response_value(&key, &input, rspauth)
}

/// Re-emits a parseable response with a correct `response=` value (so the server
/// accepts it if everything else checks out). `None` if it does not parse.
pub fn fix_response(tok: &[u8]) -> Option<Vec<u8>> {
    let mut r = Response::parse(tok).ok()?;
    r.response = digest_for(&r, false);
    Some(r.to_bytes())
}

/// H(A1) for a parsed response, computed with [`PASSWORD`]: the key every layer key
/// derives from (lets a fuzz target play the peer's sealer).
pub fn session_key_for(r: &Response) -> [u8; 16] {
    let secret = digest::secret(&r.username, r.realm.as_deref().unwrap_or(""), PASSWORD);
    let key = digest::session_key(
        &secret,
        &input_of(r),
        r.authzid.as_deref().map(str::as_bytes),
    );
    *key.as_bytes()
}

/// Splits the input into at most `n` NUL-separated tokens; the last one keeps its NUL
/// bytes (binary security-layer data).
pub fn tokens_then_rest(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |&b| b == 0).collect()
}

/// `Session::decode` of an established session, as a closure (the session type is
/// generic over its validation).
pub type Decode<'a> = dyn FnMut(&[u8], &mut Vec<u8>) -> Result<usize, SessionError> + 'a;

/// Whether `input` holds a whole frame whose length prefix is acceptable for a
/// receiver with maxbuf `own_maxbuf`: `Some(true)` whole, `Some(false)` partial but
/// fine so far, `None` bad prefix.
fn frame_state(input: &[u8], own_maxbuf: u32) -> Option<bool> {
    let Some(p) = input.get(..4) else {
        return Some(false);
    };
    let len = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
    if len < 16 || len > own_maxbuf as usize {
        return None;
    }
    Some(input.len() >= 4 + len)
}

/// Drives `Session::decode` of an established session with hostile bytes.
///
/// `data[0]` bit 0 clear ("raw"): the rest is given to `decode` as it is; the fuzzer
/// does not know the session's keys (random nonces), so nothing may be accepted.
/// `InputDataRequired` exactly when the input holds no whole frame and its length
/// prefix is acceptable.
///
/// Bit 0 set ("tamper"): `peer` (the other side's sealer) seals up to four messages
/// cut from the data, one frame is changed by XOR with bytes from the data, and the
/// stream is given to `decode` in chunks of fuzzer-chosen sizes. Oracles: unchanged
/// frames decode to exactly their message, consuming exactly their frame; a partial
/// frame gives `InputDataRequired`; the changed frame is refused; after a refusal
/// nothing is accepted, not even the genuine frame.
pub fn drive_decode(decode: &mut Decode<'_>, peer: &mut Sealer, own_maxbuf: u32, data: &[u8]) {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    if mode & 1 == 0 {
        match decode(data, &mut out) {
            Ok(n) => panic!("forged frame accepted ({n} bytes)"),
            Err(SessionError::InputDataRequired) => {
                assert_eq!(frame_state(data, own_maxbuf), Some(false));
                assert!(out.is_empty());
            }
            Err(e) => {
                assert_ne!(frame_state(data, own_maxbuf), Some(false), "{e:?}");
                assert!(decode(data, &mut out).is_err());
            }
        }
        return;
    }
    if data.len() < 4 {
        return;
    }
    let count = 1 + data[0] as usize % 4;
    let target = data[1] as usize % count;
    let pos = data[2] as usize;
    let mut seed = u32::from(data[3]) | 1;
    let mask = &data[4..data.len().min(4 + 8)];
    let body = &data[4 + mask.len()..];
    let max = peer.max_plaintext_len();
    let msgs: Vec<&[u8]> = (0..count)
        .map(|k| {
            let part = &body[body.len() * k / count..body.len() * (k + 1) / count];
            &part[..part.len().min(max)]
        })
        .collect();
    let mut frames: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            let mut f = Vec::new();
            peer.seal_frame(m, &mut f).expect("fits the peer's maxbuf");
            f
        })
        .collect();
    let genuine = frames[target].clone();
    let f = &mut frames[target];
    let start = pos % f.len();
    let mut changed = false;
    for (j, &m) in mask.iter().enumerate() {
        if let Some(b) = f.get_mut(start + j) {
            *b ^= m;
            changed |= m != 0;
        }
    }
    let stream: Vec<u8> = frames.concat();
    let (mut at, mut k, mut cut) = (0, 0, 0);
    loop {
        // Chunk sizes from a small LCG: mostly short, sometimes the rest.
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        cut = match (seed >> 16) % 4 {
            0 => stream.len(),
            r => cut + 1 + ((seed >> 8) as usize % (16 << r)),
        }
        .min(stream.len());
        let input = &stream[at..cut.max(at)];
        out.clear();
        match decode(input, &mut out) {
            Ok(n) => {
                assert!(
                    k < count && !(k == target && changed),
                    "tampered frame accepted"
                );
                assert_eq!(n, frames[k].len());
                assert_eq!(out, msgs[k]);
                at += n;
                k += 1;
                cut = at;
            }
            Err(SessionError::InputDataRequired) => {
                assert_eq!(frame_state(input, own_maxbuf), Some(false));
                if cut == stream.len() {
                    // Only a changed length prefix leaves a frame unfinished.
                    assert!(k == count || (k == target && changed));
                    break;
                }
            }
            Err(e) => {
                assert!(k == target && changed, "genuine frame {k} refused: {e:?}");
                // Failed for good: not even the genuine frame gets through now.
                assert!(
                    decode(&genuine, &mut out).is_err(),
                    "accepted after a failure"
                );
                assert!(decode(input, &mut out).is_err());
                break;
            }
        }
    }
}
