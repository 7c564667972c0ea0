//! With the `registry_static` feature, rsasl's default registry offers DIGEST-MD5.
#![cfg(feature = "registry_static")]

use rsasl::prelude::*;
// Link the crate so that its distributed-slice entry is part of the binary.
extern crate sasl_digest_md5;

struct Cb;
impl rsasl::callback::SessionCallback for Cb {}

#[test]
fn default_registry_has_digest_md5() {
    let cfg = SASLConfig::builder()
        .with_defaults()
        .with_callback(Cb)
        .unwrap();
    let server = SASLServer::<rsasl::validate::NoValidation>::new(cfg);
    let names: Vec<String> = server
        .get_available()
        .into_iter()
        .map(|m| m.mechanism.as_str().to_owned())
        .collect();
    assert!(names.iter().any(|n| n == "DIGEST-MD5"), "{names:?}");
}
