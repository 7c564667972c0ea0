//! Helpers shared by the fuzz targets: input splitting, client policies derived from
//! a byte, and digest fix-ups that let the fuzzer get past the password proof.

use sasl_digest_md5::digest::{self, DigestInput};
use sasl_digest_md5::response::Response;
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
