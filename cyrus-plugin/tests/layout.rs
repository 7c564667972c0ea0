//! Every `#[repr(C)]` struct of `ffi` against the real headers: a small C program,
//! built here with `cc` against `/usr/include/sasl/{sasl,saslplug,prop}.h`, prints
//! `sizeof` and every field's `offsetof`; Rust's `size_of`/`offset_of!` must agree.

use std::mem::{offset_of, size_of};
use std::process::Command;

use digestmd5::ffi::*;

macro_rules! layout {
    ($($rs:ident => $c:literal { $($f:ident),* $(,)? })*) => {{
        let mut rust = Vec::new();
        let mut c = String::new();
        $(
            rust.push(format!("{} sizeof {}", $c, size_of::<$rs>()));
            c.push_str(&format!("printf(\"{} sizeof %zu\\n\", sizeof({}));\n", $c, $c));
            $(
                rust.push(format!("{} {} {}", $c, stringify!($f), offset_of!($rs, $f)));
                c.push_str(&format!(
                    "printf(\"{} {} %zu\\n\", offsetof({}, {}));\n",
                    $c, stringify!($f), $c, stringify!($f)
                ));
            )*
        )*
        (rust, c)
    }};
}

#[test]
fn repr_c_structs_match_the_cyrus_headers() {
    let (rust, body) = layout! {
        iovec => "struct iovec" { iov_base, iov_len }
        propval => "struct propval" { name, values, nvalues, valsize }
        sasl_secret_t => "sasl_secret_t" { len, data }
        sasl_interact_t => "sasl_interact_t" { id, challenge, prompt, defresult, result, len }
        sasl_security_properties_t => "sasl_security_properties_t" {
            min_ssf, max_ssf, maxbufsize, security_flags, property_names, property_values
        }
        sasl_utils_t => "sasl_utils_t" {
            version, conn, rpool, getopt_context, getopt, malloc, calloc, realloc, free,
            mutex_alloc, mutex_lock, mutex_unlock, mutex_free, MD5Init, MD5Update, MD5Final,
            hmac_md5, hmac_md5_init, hmac_md5_final, hmac_md5_precalc, hmac_md5_import,
            mkchal, utf8verify, rand, churn, checkpass, decode64, encode64, erasebuffer,
            getprop, setprop, getcallback, log, seterror, spare_fptr, prop_new, prop_dup,
            prop_request, prop_get, prop_getnames, prop_clear, prop_dispose, prop_format,
            prop_set, prop_setvals, prop_erase, auxprop_store, spare_fptr1, spare_fptr2
        }
        sasl_out_params_t => "sasl_out_params_t" {
            doneflag, user, authid, ulen, alen, maxoutbuf, mech_ssf, encode_context, encode,
            decode_context, decode, client_creds, gss_peer_name, gss_local_name, cbindingname,
            spare_fptr1, spare_fptr2, cbindingdisp, spare_int2, spare_int3, spare_int4,
            param_version
        }
        sasl_client_params_t => "sasl_client_params_t" {
            service, serverFQDN, clientFQDN, utils, prompt_supp, iplocalport, ipremoteport,
            servicelen, slen, clen, iploclen, ipremlen, props, external_ssf, gss_creds,
            cbinding, http_request, spare_ptr4, canon_user, spare_fptr1, cbindingdisp,
            log_level, spare_int3, flags, param_version
        }
        sasl_server_params_t => "sasl_server_params_t" {
            service, appname, serverFQDN, user_realm, iplocalport, ipremoteport, servicelen,
            applen, slen, urlen, iploclen, ipremlen, log_level, utils, callbacks, props,
            external_ssf, transition, canon_user, propctx, gss_creds, cbinding, http_request,
            spare_ptr4, spare_fptr1, spare_fptr2, spare_int1, spare_int2, spare_int3, flags,
            param_version
        }
        sasl_client_plug_t => "sasl_client_plug_t" {
            mech_name, max_ssf, security_flags, features, required_prompts, glob_context,
            mech_new, mech_step, mech_dispose, mech_free, idle, spare_fptr1, spare_fptr2
        }
        sasl_server_plug_t => "sasl_server_plug_t" {
            mech_name, max_ssf, security_flags, features, glob_context, mech_new, mech_step,
            mech_dispose, mech_free, setpass, user_query, idle, mech_avail, spare_fptr2
        }
    };
    let dir = std::env::temp_dir().join(format!("digestmd5-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    std::fs::write(
        &src,
        format!(
            "#include <stddef.h>\n#include <stdio.h>\n#include <sys/uio.h>\n\
             #include <sasl/sasl.h>\n#include <sasl/saslplug.h>\n#include <sasl/prop.h>\n\
             int main(void) {{\n{body}return 0;\n}}\n"
        ),
    )
    .unwrap();
    let exe = dir.join("layout");
    let out = Command::new("cc")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run cc (apt-get install gcc libsasl2-dev)");
    assert!(
        out.status.success(),
        "cc failed (needs gcc and libsasl2-dev):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().expect("run the layout program");
    assert!(out.status.success());
    let c: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(c.len(), rust.len());
    let diffs: Vec<_> = rust
        .iter()
        .zip(&c)
        .filter(|(r, c)| r != c)
        .map(|(r, c)| format!("rust: {r} / C: {c}"))
        .collect();
    assert!(
        diffs.is_empty(),
        "layout differences:\n{}",
        diffs.join("\n")
    );
    // The header checks above cover 150+ fields; be sure they ran.
    assert!(rust.len() > 150, "{}", rust.len());
}
