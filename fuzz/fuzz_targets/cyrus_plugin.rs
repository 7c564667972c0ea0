//! The Cyrus SASL plugin (`cyrus-plugin/`, libdigestmd5.so) through its C entry
//! points, driven by the libsasl2 stand-in of its tests: challenges and rspauth
//! tokens to the client's `mech_step`, responses to the server's, and layer packets
//! (in fuzzer-chosen chunks) to `decode` of an established connection pair. No input
//! may panic (a caught panic still aborts here) or misbehave in memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../cyrus-plugin/tests/support/fake_sasl.rs"]
mod fake_sasl;

use fake_sasl::{Conn, Env, Harness, Sec};

const SSFS: [u32; 7] = [0, 1, 40, 55, 56, 112, 128];

fn sec(min: u32, max: u32) -> Sec {
    Sec { min_ssf: min, max_ssf: max, maxbufsize: 4096 }
}

fn server_harness() -> Harness {
    let mut env = Env::new("", "");
    env.users = vec![("alice".into(), b"secret".to_vec())];
    Harness::new(env)
}

fuzz_target!(|data: &[u8]| {
    let [mode, arg, rest @ ..] = data else { return };
    match mode % 3 {
        0 => {
            // Client: a challenge, then an rspauth / anything.
            let cut = (*arg as usize).min(rest.len());
            let (challenge, second) = rest.split_at(rest.len() - cut);
            let mut env = Env::new("alice", "secret");
            env.interact = arg & 1 == 1;
            let mut h = Harness::new(env);
            let ssf = SSFS[(*arg as usize) % SSFS.len()];
            let mut c = Conn::client(&mut h, "ldap", "h", sec(0, ssf));
            c.step(&mut h, None);
            let (mut r, _) = c.step(&mut h, Some(challenge));
            if r == 2 {
                r = c.step(&mut h, Some(challenge)).0;
            }
            if r == 1 {
                c.step(&mut h, Some(second));
            }
            c.dispose(&h);
        }
        1 => {
            // Server: its challenge, then a fuzzed response.
            let mut h = server_harness();
            let ssf = SSFS[(*arg as usize) % SSFS.len()];
            let mut s = Conn::server(&mut h, "ldap", "h", "r", sec(0, ssf));
            s.step(&mut h, None);
            s.step(&mut h, Some(rest));
            s.step(&mut h, Some(rest));
            s.dispose(&h);
        }
        _ => {
            // An established pair with a layer; fuzzed packets to both decoders.
            let ssf = SSFS[1 + (*arg as usize) % (SSFS.len() - 1)];
            let mut ch = Harness::new(Env::new("alice", "secret"));
            let mut sh = server_harness();
            let mut c = Conn::client(&mut ch, "ldap", "h", sec(ssf, ssf));
            let mut s = Conn::server(&mut sh, "ldap", "h", "r", sec(0, 256));
            c.step(&mut ch, None);
            let (_, challenge) = s.step(&mut sh, None);
            let (_, response) = c.step(&mut ch, Some(&challenge));
            let (_, rspauth) = s.step(&mut sh, Some(&response));
            assert_eq!(c.step(&mut ch, Some(&rspauth)).0, 0);
            // A genuine packet first, so that sequence numbers move on.
            let good = c.encode(&[rest]).unwrap();
            assert_eq!(s.decode(&good).unwrap(), rest);
            let chunk = 1 + (*arg as usize >> 3);
            for piece in rest.chunks(chunk) {
                if s.decode(piece).is_err() {
                    break;
                }
            }
            for piece in rest.chunks(chunk) {
                if c.decode(piece).is_err() {
                    break;
                }
            }
            c.dispose(&ch);
            s.dispose(&sh);
        }
    }
});
