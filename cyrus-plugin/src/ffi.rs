//! The only module with `unsafe`: the C structures of Cyrus SASL's plugin ABI
//! (`saslplug.h`, `sasl.h`, `prop.h`, libsasl2 2.1.28, plugin API version 4), the four
//! entry points libsasl2 calls, and small safe wrappers around the `sasl_utils_t` and
//! params callbacks. Everything else (`client`, `server`, `layer`) is safe Rust.
//!
//! Rules kept here:
//! - Every `extern "C"` function catches panics and turns them into `SASL_FAIL` plus a
//!   message through `utils->seterror`.
//! - What libsasl2 frees (the `sasl_interact_t` prompt array) comes from
//!   `utils->malloc`; every other buffer handed out (step output, encode/decode output)
//!   is owned by the connection context and lives until the next call or
//!   `mech_dispose`.
//! - Pointers from libsasl2 are checked for NULL before use; lengths come with them.
#![allow(non_snake_case, non_camel_case_types)]

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::client::{ClientConn, ClientInput, Creds};
use crate::layer::Layer;
use crate::server::{ServerConn, ServerInput};
use crate::{codes, Done, Props};

type FnPtr = Option<unsafe extern "C" fn()>;

/// `struct iovec` (sys/uio.h).
#[repr(C)]
pub struct iovec {
    pub iov_base: *mut c_void,
    pub iov_len: usize,
}

/// `sasl_utils_t` (saslplug.h).
#[repr(C)]
pub struct sasl_utils_t {
    pub version: c_int,
    pub conn: *mut c_void,
    pub rpool: *mut c_void,
    pub getopt_context: *mut c_void,
    pub getopt: Option<
        unsafe extern "C" fn(
            *mut c_void,
            *const c_char,
            *const c_char,
            *mut *const c_char,
            *mut c_uint,
        ) -> c_int,
    >,
    pub malloc: Option<unsafe extern "C" fn(usize) -> *mut c_void>,
    pub calloc: FnPtr,
    pub realloc: FnPtr,
    pub free: Option<unsafe extern "C" fn(*mut c_void)>,
    pub mutex_alloc: FnPtr,
    pub mutex_lock: FnPtr,
    pub mutex_unlock: FnPtr,
    pub mutex_free: FnPtr,
    pub MD5Init: FnPtr,
    pub MD5Update: FnPtr,
    pub MD5Final: FnPtr,
    pub hmac_md5: FnPtr,
    pub hmac_md5_init: FnPtr,
    pub hmac_md5_final: FnPtr,
    pub hmac_md5_precalc: FnPtr,
    pub hmac_md5_import: FnPtr,
    pub mkchal: FnPtr,
    pub utf8verify: FnPtr,
    pub rand: FnPtr,
    pub churn: FnPtr,
    pub checkpass: FnPtr,
    pub decode64: FnPtr,
    pub encode64: FnPtr,
    pub erasebuffer: FnPtr,
    pub getprop: FnPtr,
    pub setprop: FnPtr,
    pub getcallback:
        Option<unsafe extern "C" fn(*mut c_void, c_ulong, *mut FnPtr, *mut *mut c_void) -> c_int>,
    pub log: Option<unsafe extern "C" fn(*mut c_void, c_int, *const c_char, ...)>,
    pub seterror: Option<unsafe extern "C" fn(*mut c_void, c_uint, *const c_char, ...)>,
    pub spare_fptr: FnPtr,
    pub prop_new: FnPtr,
    pub prop_dup: FnPtr,
    pub prop_request: Option<unsafe extern "C" fn(*mut c_void, *const *const c_char) -> c_int>,
    pub prop_get: FnPtr,
    pub prop_getnames:
        Option<unsafe extern "C" fn(*mut c_void, *const *const c_char, *mut propval) -> c_int>,
    pub prop_clear: FnPtr,
    pub prop_dispose: FnPtr,
    pub prop_format: FnPtr,
    pub prop_set: FnPtr,
    pub prop_setvals: FnPtr,
    pub prop_erase: Option<unsafe extern "C" fn(*mut c_void, *const c_char)>,
    pub auxprop_store: FnPtr,
    pub spare_fptr1: FnPtr,
    pub spare_fptr2: FnPtr,
}

/// `struct propval` (prop.h).
#[repr(C)]
pub struct propval {
    pub name: *const c_char,
    pub values: *mut *const c_char,
    pub nvalues: c_uint,
    pub valsize: c_uint,
}

/// `sasl_security_properties_t` (sasl.h).
#[repr(C)]
pub struct sasl_security_properties_t {
    pub min_ssf: c_uint,
    pub max_ssf: c_uint,
    pub maxbufsize: c_uint,
    pub security_flags: c_uint,
    pub property_names: *mut *const c_char,
    pub property_values: *mut *const c_char,
}

/// `sasl_interact_t` (sasl.h).
#[repr(C)]
pub struct sasl_interact_t {
    pub id: c_ulong,
    pub challenge: *const c_char,
    pub prompt: *const c_char,
    pub defresult: *const c_char,
    pub result: *const c_void,
    pub len: c_uint,
}

/// `sasl_secret_t` (sasl.h): the header; `data` is variable-sized.
#[repr(C)]
pub struct sasl_secret_t {
    pub len: c_ulong,
    pub data: [u8; 1],
}

type CanonUser = Option<
    unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        c_uint,
        c_uint,
        *mut sasl_out_params_t,
    ) -> c_int,
>;

/// `sasl_out_params_t` (saslplug.h).
#[repr(C)]
pub struct sasl_out_params_t {
    pub doneflag: c_uint,
    pub user: *const c_char,
    pub authid: *const c_char,
    pub ulen: c_uint,
    pub alen: c_uint,
    pub maxoutbuf: c_uint,
    pub mech_ssf: c_uint,
    pub encode_context: *mut c_void,
    pub encode: Option<EncodeFn>,
    pub decode_context: *mut c_void,
    pub decode: Option<DecodeFn>,
    pub client_creds: *mut c_void,
    pub gss_peer_name: *const c_void,
    pub gss_local_name: *const c_void,
    pub cbindingname: *const c_char,
    pub spare_fptr1: FnPtr,
    pub spare_fptr2: FnPtr,
    pub cbindingdisp: c_uint,
    pub spare_int2: c_int,
    pub spare_int3: c_int,
    pub spare_int4: c_int,
    pub param_version: c_int,
}

type EncodeFn = unsafe extern "C" fn(
    *mut c_void,
    *const iovec,
    c_uint,
    *mut *const c_char,
    *mut c_uint,
) -> c_int;
type DecodeFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    c_uint,
    *mut *const c_char,
    *mut c_uint,
) -> c_int;

/// `sasl_client_params_t` (saslplug.h).
#[repr(C)]
pub struct sasl_client_params_t {
    pub service: *const c_char,
    pub serverFQDN: *const c_char,
    pub clientFQDN: *const c_char,
    pub utils: *const sasl_utils_t,
    pub prompt_supp: *const c_void,
    pub iplocalport: *const c_char,
    pub ipremoteport: *const c_char,
    pub servicelen: c_uint,
    pub slen: c_uint,
    pub clen: c_uint,
    pub iploclen: c_uint,
    pub ipremlen: c_uint,
    pub props: sasl_security_properties_t,
    pub external_ssf: c_uint,
    pub gss_creds: *const c_void,
    pub cbinding: *const c_void,
    pub http_request: *const c_void,
    pub spare_ptr4: *mut c_void,
    pub canon_user: CanonUser,
    pub spare_fptr1: FnPtr,
    pub cbindingdisp: c_uint,
    pub log_level: c_int,
    pub spare_int3: c_int,
    pub flags: c_uint,
    pub param_version: c_int,
}

/// `sasl_server_params_t` (saslplug.h).
#[repr(C)]
pub struct sasl_server_params_t {
    pub service: *const c_char,
    pub appname: *const c_char,
    pub serverFQDN: *const c_char,
    pub user_realm: *const c_char,
    pub iplocalport: *const c_char,
    pub ipremoteport: *const c_char,
    pub servicelen: c_uint,
    pub applen: c_uint,
    pub slen: c_uint,
    pub urlen: c_uint,
    pub iploclen: c_uint,
    pub ipremlen: c_uint,
    pub log_level: c_int,
    pub utils: *const sasl_utils_t,
    pub callbacks: *const c_void,
    pub props: sasl_security_properties_t,
    pub external_ssf: c_uint,
    pub transition: FnPtr,
    pub canon_user: CanonUser,
    pub propctx: *mut c_void,
    pub gss_creds: *const c_void,
    pub cbinding: *const c_void,
    pub http_request: *const c_void,
    pub spare_ptr4: *mut c_void,
    pub spare_fptr1: FnPtr,
    pub spare_fptr2: FnPtr,
    pub spare_int1: c_int,
    pub spare_int2: c_int,
    pub spare_int3: c_int,
    pub flags: c_uint,
    pub param_version: c_int,
}

type ClientStep = unsafe extern "C" fn(
    *mut c_void,
    *mut sasl_client_params_t,
    *const c_char,
    c_uint,
    *mut *mut sasl_interact_t,
    *mut *const c_char,
    *mut c_uint,
    *mut sasl_out_params_t,
) -> c_int;
type ServerStep = unsafe extern "C" fn(
    *mut c_void,
    *mut sasl_server_params_t,
    *const c_char,
    c_uint,
    *mut *const c_char,
    *mut c_uint,
    *mut sasl_out_params_t,
) -> c_int;
type Dispose = unsafe extern "C" fn(*mut c_void, *const sasl_utils_t);

/// `sasl_client_plug_t` (saslplug.h).
#[repr(C)]
pub struct sasl_client_plug_t {
    pub mech_name: *const c_char,
    pub max_ssf: c_uint,
    pub security_flags: c_uint,
    pub features: c_uint,
    pub required_prompts: *const c_ulong,
    pub glob_context: *mut c_void,
    pub mech_new: Option<
        unsafe extern "C" fn(*mut c_void, *mut sasl_client_params_t, *mut *mut c_void) -> c_int,
    >,
    pub mech_step: Option<ClientStep>,
    pub mech_dispose: Option<Dispose>,
    pub mech_free: Option<Dispose>,
    pub idle: FnPtr,
    pub spare_fptr1: FnPtr,
    pub spare_fptr2: FnPtr,
}

/// `sasl_server_plug_t` (saslplug.h).
#[repr(C)]
pub struct sasl_server_plug_t {
    pub mech_name: *const c_char,
    pub max_ssf: c_uint,
    pub security_flags: c_uint,
    pub features: c_uint,
    pub glob_context: *mut c_void,
    pub mech_new: Option<
        unsafe extern "C" fn(
            *mut c_void,
            *mut sasl_server_params_t,
            *const c_char,
            c_uint,
            *mut *mut c_void,
        ) -> c_int,
    >,
    pub mech_step: Option<ServerStep>,
    pub mech_dispose: Option<Dispose>,
    pub mech_free: Option<Dispose>,
    pub setpass: FnPtr,
    pub user_query: FnPtr,
    pub idle: FnPtr,
    pub mech_avail: FnPtr,
    pub spare_fptr2: FnPtr,
}

// The registration arrays are immutable statics; libsasl2 only reads them. Raw
// pointers are not `Sync`, hence the wrapper.
#[repr(transparent)]
struct Plug<T>(T);
// SAFETY: the wrapped structs hold only pointers to 'static immutable data and
// function pointers, and nobody writes through them.
unsafe impl<T> Sync for Plug<T> {}

const MECH_NAME: &CStr = c"DIGEST-MD5";
const SEC_FLAGS: c_uint = codes::SEC_NOPLAINTEXT | codes::SEC_NOANONYMOUS | codes::SEC_MUTUAL_AUTH;

static CLIENT_PLUG: Plug<[sasl_client_plug_t; 1]> = Plug([sasl_client_plug_t {
    mech_name: MECH_NAME.as_ptr(),
    max_ssf: 128,
    security_flags: SEC_FLAGS,
    features: codes::FEAT_NEEDSERVERFQDN | codes::FEAT_ALLOWS_PROXY | codes::FEAT_SUPPORTS_HTTP,
    required_prompts: ptr::null(),
    glob_context: ptr::null_mut(),
    mech_new: Some(client_mech_new),
    mech_step: Some(client_mech_step),
    mech_dispose: Some(mech_dispose),
    mech_free: Some(client_mech_free),
    idle: None,
    spare_fptr1: None,
    spare_fptr2: None,
}]);

static SERVER_PLUG: Plug<[sasl_server_plug_t; 1]> = Plug([sasl_server_plug_t {
    mech_name: MECH_NAME.as_ptr(),
    max_ssf: 128,
    security_flags: SEC_FLAGS,
    features: codes::FEAT_ALLOWS_PROXY | codes::FEAT_SUPPORTS_HTTP,
    glob_context: ptr::null_mut(),
    mech_new: Some(server_mech_new),
    mech_step: Some(server_mech_step),
    mech_dispose: Some(mech_dispose),
    mech_free: Some(server_mech_free),
    setpass: None,
    user_query: None,
    idle: None,
    mech_avail: None,
    spare_fptr2: None,
}]);

// ---------------------------------------------------------------------------
// Safe views of libsasl2's utilities.

/// `utils` with the calls this plugin makes.
pub(crate) struct Utils<'a>(&'a sasl_utils_t);

impl Utils<'_> {
    /// `utils->seterror(conn, 0, "%s", msg)`: what users see as "additional info".
    pub(crate) fn seterror(&self, msg: &str) {
        if let Some(f) = self.0.seterror {
            let c = cstring_lossy(msg);
            // SAFETY: libsasl2's seterror with a "%s" format and one NUL-terminated string.
            unsafe { f(self.0.conn, 0, c"%s".as_ptr(), c.as_ptr()) };
        }
    }

    /// `utils->getopt(context, "DIGEST-MD5", name)`: the option's value, if set.
    pub(crate) fn getopt(&self, name: &CStr) -> Option<String> {
        let f = self.0.getopt?;
        let mut out: *const c_char = ptr::null();
        let mut len: c_uint = 0;
        // SAFETY: out-params are valid locals; libsasl2 keeps the value alive.
        let r = unsafe {
            f(
                self.0.getopt_context,
                MECH_NAME.as_ptr(),
                name.as_ptr(),
                &mut out,
                &mut len,
            )
        };
        if r != codes::OK || out.is_null() {
            return None;
        }
        // SAFETY: libsasl2 returned a string of `len` bytes (0 = NUL-terminated).
        let bytes = unsafe { bytes_of(out, len) };
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn cstring_lossy(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).unwrap_or_default()
}

/// Copies `len` bytes at `p` (or up to the NUL when `len` is 0).
///
/// # Safety
/// `p` must be NULL, or point to `len` readable bytes (or, for `len == 0`, a
/// NUL-terminated string).
unsafe fn bytes_of(p: *const c_char, len: c_uint) -> Vec<u8> {
    if p.is_null() {
        Vec::new()
    } else if len == 0 {
        CStr::from_ptr(p).to_bytes().to_vec()
    } else {
        std::slice::from_raw_parts(p.cast::<u8>(), len as usize).to_vec()
    }
}

/// # Safety
/// As [`bytes_of`].
unsafe fn string_of(p: *const c_char, len: c_uint) -> Option<String> {
    if p.is_null() {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes_of(p, len)).into_owned())
}

/// # Safety
/// `p` must be NULL or point to `len` readable bytes.
unsafe fn slice_of<'a>(p: *const c_char, len: c_uint) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p.cast::<u8>(), len as usize)
    }
}

fn props_of(p: &sasl_security_properties_t, external_ssf: c_uint) -> Props {
    Props {
        min_ssf: p.min_ssf.saturating_sub(external_ssf),
        max_ssf: p.max_ssf.saturating_sub(external_ssf),
        maxbufsize: p.maxbufsize,
    }
}

// ---------------------------------------------------------------------------
// The connection context.

enum Role {
    Client(ClientConn),
    Server(ServerConn),
}

/// What `*conn_context` points to: the protocol state, the buffer the last step's
/// output lives in, and the security layer once established.
struct Conn {
    role: Role,
    out: Vec<u8>,
    layer: Option<Layer>,
    /// The prompt array handed out with the last `SASL_INTERACT`, freed in
    /// `mech_dispose` if the application disposes of the connection instead of
    /// answering.
    prompts: *mut sasl_interact_t,
}

/// Runs `f`, turning a panic into `SASL_FAIL` with a message.
fn guarded(utils: Option<Utils<'_>>, f: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            if let Some(u) = utils {
                u.seterror("DIGEST-MD5: internal error (panic caught in the plugin)");
            }
            codes::FAIL
        }
    }
}

/// # Safety
/// `utils` must be NULL or a valid `sasl_utils_t` pointer for the call's duration.
unsafe fn utils_ref<'a>(utils: *const sasl_utils_t) -> Option<Utils<'a>> {
    utils.as_ref().map(Utils)
}

fn fill_done(oparams: &mut sasl_out_params_t, done: &Done, has_layer: bool) {
    oparams.doneflag = 1;
    oparams.mech_ssf = done.ssf;
    oparams.maxoutbuf = done.maxoutbuf;
    oparams.encode_context = ptr::null_mut();
    oparams.decode_context = ptr::null_mut();
    if has_layer {
        oparams.encode = Some(layer_encode);
        oparams.decode = Some(layer_decode);
    } else {
        oparams.encode = None;
        oparams.decode = None;
    }
    oparams.param_version = 0;
    oparams.cbindingdisp = 0;
}

// ---------------------------------------------------------------------------
// Entry points.

/// `sasl_client_plug_init`.
///
/// # Safety
/// Called by libsasl2 with valid out-pointers.
#[no_mangle]
pub unsafe extern "C" fn sasl_client_plug_init(
    utils: *const sasl_utils_t,
    max_version: c_int,
    out_version: *mut c_int,
    pluglist: *mut *const sasl_client_plug_t,
    plugcount: *mut c_int,
) -> c_int {
    let u = utils_ref(utils);
    guarded(utils_ref(utils), || {
        if max_version < codes::PLUG_VERSION {
            if let Some(u) = u {
                u.seterror("DIGEST-MD5 version mismatch");
            }
            return codes::BADVERS;
        }
        if out_version.is_null() || pluglist.is_null() || plugcount.is_null() {
            return codes::BADPARAM;
        }
        *out_version = codes::PLUG_VERSION;
        *pluglist = CLIENT_PLUG.0.as_ptr();
        *plugcount = 1;
        codes::OK
    })
}

/// `sasl_server_plug_init`.
///
/// # Safety
/// Called by libsasl2 with valid out-pointers.
#[no_mangle]
pub unsafe extern "C" fn sasl_server_plug_init(
    utils: *const sasl_utils_t,
    max_version: c_int,
    out_version: *mut c_int,
    pluglist: *mut *const sasl_server_plug_t,
    plugcount: *mut c_int,
) -> c_int {
    let u = utils_ref(utils);
    guarded(utils_ref(utils), || {
        if max_version < codes::PLUG_VERSION {
            if let Some(u) = u {
                u.seterror("DIGEST-MD5 version mismatch");
            }
            return codes::BADVERS;
        }
        if out_version.is_null() || pluglist.is_null() || plugcount.is_null() {
            return codes::BADPARAM;
        }
        *out_version = codes::PLUG_VERSION;
        *pluglist = SERVER_PLUG.0.as_ptr();
        *plugcount = 1;
        codes::OK
    })
}

unsafe extern "C" fn client_mech_new(
    _glob: *mut c_void,
    cparams: *mut sasl_client_params_t,
    conn_context: *mut *mut c_void,
) -> c_int {
    let utils = cparams.as_ref().and_then(|p| utils_ref(p.utils));
    guarded(utils, || {
        if conn_context.is_null() {
            return codes::BADPARAM;
        }
        let conn = Box::new(Conn {
            role: Role::Client(ClientConn::new()),
            out: Vec::new(),
            layer: None,
            prompts: ptr::null_mut(),
        });
        *conn_context = Box::into_raw(conn).cast();
        codes::OK
    })
}

unsafe extern "C" fn server_mech_new(
    _glob: *mut c_void,
    sparams: *mut sasl_server_params_t,
    _challenge: *const c_char,
    _challen: c_uint,
    conn_context: *mut *mut c_void,
) -> c_int {
    let utils = sparams.as_ref().and_then(|p| utils_ref(p.utils));
    guarded(utils, || {
        if conn_context.is_null() {
            return codes::BADPARAM;
        }
        let conn = Box::new(Conn {
            role: Role::Server(ServerConn::new()),
            out: Vec::new(),
            layer: None,
            prompts: ptr::null_mut(),
        });
        *conn_context = Box::into_raw(conn).cast();
        codes::OK
    })
}

unsafe extern "C" fn mech_dispose(conn_context: *mut c_void, utils: *const sasl_utils_t) {
    if conn_context.is_null() {
        return;
    }
    let pending = (*conn_context.cast::<Conn>()).prompts;
    if !pending.is_null() {
        if let Some(free) = utils.as_ref().and_then(|u| u.free) {
            free(pending.cast());
        }
    }
    // Dropping zeroizes keys; a panic in a destructor must not unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: conn_context was made by Box::into_raw in mech_new and libsasl2
        // disposes of it exactly once.
        drop(Box::from_raw(conn_context.cast::<Conn>()));
    }));
}

unsafe extern "C" fn client_mech_free(_glob: *mut c_void, _utils: *const sasl_utils_t) {
    let _ = catch_unwind(crate::client::clear_cache);
}

unsafe extern "C" fn server_mech_free(_glob: *mut c_void, _utils: *const sasl_utils_t) {
    let _ = catch_unwind(crate::server::clear_cache);
}

/// Asks for the client's credentials the way Cyrus's plugins do: answers to our
/// earlier prompts first, then the application's callbacks; `SASL_INTERACT` from
/// `getcallback` means a prompt is needed.
struct ClientAsk<'a> {
    utils: &'a sasl_utils_t,
    prompts: *mut *mut sasl_interact_t,
    need: Vec<c_ulong>,
}

enum Answer {
    Got(Vec<u8>),
    None,
}

impl ClientAsk<'_> {
    /// # Safety
    /// `self.prompts` is NULL or points to a prompt-array pointer libsasl2 passed in.
    unsafe fn prompt_answer(&self, id: c_ulong) -> Option<Vec<u8>> {
        if self.prompts.is_null() || (*self.prompts).is_null() {
            return None;
        }
        let mut p = *self.prompts;
        while (*p).id != codes::CB_LIST_END {
            if (*p).id == id {
                return Some(if (*p).result.is_null() {
                    Vec::new()
                } else {
                    slice_of((*p).result.cast(), (*p).len).to_vec()
                });
            }
            p = p.add(1);
        }
        None
    }

    /// # Safety
    /// As [`Self::prompt_answer`]; `realms` are passed to a GETREALM callback.
    unsafe fn get(&mut self, id: c_ulong, realms: &[String]) -> Result<Answer, c_int> {
        if let Some(v) = self.prompt_answer(id) {
            return Ok(Answer::Got(v));
        }
        let Some(getcb) = self.utils.getcallback else {
            return Ok(Answer::None);
        };
        let mut proc_: FnPtr = None;
        let mut ctx: *mut c_void = ptr::null_mut();
        let r = getcb(self.utils.conn, id, &mut proc_, &mut ctx);
        match (r, proc_) {
            (codes::INTERACT, _) => {
                self.need.push(id);
                Ok(Answer::None)
            }
            (codes::OK, Some(f)) => match id {
                codes::CB_PASS => {
                    let f: unsafe extern "C" fn(
                        *mut c_void,
                        *mut c_void,
                        c_int,
                        *mut *mut sasl_secret_t,
                    ) -> c_int = std::mem::transmute(f);
                    let mut secret: *mut sasl_secret_t = ptr::null_mut();
                    let r = f(self.utils.conn, ctx, id as c_int, &mut secret);
                    if r != codes::OK {
                        return Err(r);
                    }
                    if secret.is_null() {
                        return Ok(Answer::None);
                    }
                    let len = (*secret).len as usize;
                    let data = ptr::addr_of!((*secret).data).cast::<u8>();
                    Ok(Answer::Got(std::slice::from_raw_parts(data, len).to_vec()))
                }
                codes::CB_GETREALM => {
                    let f: unsafe extern "C" fn(
                        *mut c_void,
                        c_int,
                        *const *const c_char,
                        *mut *const c_char,
                    ) -> c_int = std::mem::transmute(f);
                    let owned: Vec<CString> = realms.iter().map(|r| cstring_lossy(r)).collect();
                    let mut list: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
                    list.push(ptr::null());
                    let mut out: *const c_char = ptr::null();
                    let r = f(ctx, id as c_int, list.as_ptr(), &mut out);
                    if r != codes::OK {
                        return Err(r);
                    }
                    Ok(if out.is_null() {
                        Answer::None
                    } else {
                        Answer::Got(bytes_of(out, 0))
                    })
                }
                _ => {
                    let f: unsafe extern "C" fn(
                        *mut c_void,
                        c_int,
                        *mut *const c_char,
                        *mut c_uint,
                    ) -> c_int = std::mem::transmute(f);
                    let mut out: *const c_char = ptr::null();
                    let mut len: c_uint = 0;
                    let r = f(ctx, id as c_int, &mut out, &mut len);
                    if r != codes::OK {
                        return Err(r);
                    }
                    Ok(if out.is_null() {
                        Answer::None
                    } else {
                        Answer::Got(bytes_of(out, len))
                    })
                }
            },
            _ => Ok(Answer::None),
        }
    }

    /// Frees the answered prompt array (it came from `utils->malloc`, ours).
    ///
    /// # Safety
    /// As [`Self::prompt_answer`].
    unsafe fn free_prompts(&mut self) {
        if self.prompts.is_null() || (*self.prompts).is_null() {
            return;
        }
        if let Some(free) = self.utils.free {
            free((*self.prompts).cast());
        }
        *self.prompts = ptr::null_mut();
    }

    /// Builds the `sasl_interact_t` array for `self.need` with `utils->malloc`.
    ///
    /// # Safety
    /// As [`Self::prompt_answer`].
    unsafe fn make_prompts(&mut self) -> c_int {
        let Some(malloc) = self.utils.malloc else {
            return codes::FAIL;
        };
        if self.prompts.is_null() {
            return codes::BADPARAM;
        }
        let n = self.need.len() + 1;
        let p = malloc(n * std::mem::size_of::<sasl_interact_t>()).cast::<sasl_interact_t>();
        if p.is_null() {
            return codes::NOMEM;
        }
        for (i, &id) in self
            .need
            .iter()
            .chain(std::iter::once(&codes::CB_LIST_END))
            .enumerate()
        {
            let (challenge, prompt): (&CStr, &CStr) = match id {
                codes::CB_USER => (
                    c"Authorization Name",
                    c"Please enter your authorization name",
                ),
                codes::CB_AUTHNAME => (
                    c"Authentication Name",
                    c"Please enter your authentication name",
                ),
                codes::CB_PASS => (c"Password", c"Please enter your password"),
                codes::CB_GETREALM => (c"Realm", c"Please enter your realm"),
                _ => (c"", c""),
            };
            let last = id == codes::CB_LIST_END;
            p.add(i).write(sasl_interact_t {
                id,
                challenge: if last {
                    ptr::null()
                } else {
                    challenge.as_ptr()
                },
                prompt: if last { ptr::null() } else { prompt.as_ptr() },
                defresult: ptr::null(),
                result: ptr::null(),
                len: 0,
            });
        }
        *self.prompts = p;
        codes::INTERACT
    }
}

/// Gathers authname, authzid, password and (when asked) a realm.
///
/// # Safety
/// `utils` valid; `prompts` NULL or libsasl2's prompt pointer.
unsafe fn gather_creds(
    utils: &sasl_utils_t,
    prompts: *mut *mut sasl_interact_t,
    realms: Option<&[String]>,
) -> Result<Creds, c_int> {
    let mut ask = ClientAsk {
        utils,
        prompts,
        need: Vec::new(),
    };
    let authzid = ask.get(codes::CB_USER, &[])?;
    let authname = ask.get(codes::CB_AUTHNAME, &[])?;
    let password = ask.get(codes::CB_PASS, &[])?;
    let realm = match realms {
        Some(r) => ask.get(codes::CB_GETREALM, r)?,
        None => Answer::None,
    };
    ask.free_prompts();
    if !ask.need.is_empty() {
        return Err(ask.make_prompts());
    }
    let text = |a: Answer| match a {
        Answer::Got(v) => Some(String::from_utf8_lossy(&v).into_owned()),
        Answer::None => None,
    };
    Ok(Creds {
        authname: text(authname),
        authzid: text(authzid),
        password: match password {
            Answer::Got(v) => Some(zeroize::Zeroizing::new(v)),
            Answer::None => None,
        },
        realm: text(realm),
    })
}

/// # Safety
/// `canon` is libsasl2's canon_user; `oparams` valid.
unsafe fn canon(
    canon: CanonUser,
    conn: *mut c_void,
    name: &str,
    flags: c_uint,
    oparams: *mut sasl_out_params_t,
) -> c_int {
    let Some(f) = canon else { return codes::FAIL };
    let c = cstring_lossy(name);
    f(conn, c.as_ptr(), name.len() as c_uint, flags, oparams)
}

/// Hands a step's result to libsasl2: the output token (owned by `conn` until the next
/// call or dispose), and on completion the out-params and the layer.
unsafe fn hand_out(
    conn: &mut Conn,
    result: Result<crate::StepOut, c_int>,
    out: *mut *const c_char,
    outlen: *mut c_uint,
    oparams: *mut sasl_out_params_t,
) -> c_int {
    let (token, code) = match result {
        Ok(crate::StepOut::Continue(token)) => (token, codes::CONTINUE),
        Ok(crate::StepOut::Done { out, done, layer }) => {
            let has_layer = layer.is_some();
            conn.layer = layer;
            fill_done(&mut *oparams, &done, has_layer);
            (out.unwrap_or_default(), codes::OK)
        }
        Err(code) => return code,
    };
    conn.out = token;
    if !conn.out.is_empty() || code == codes::CONTINUE {
        *out = conn.out.as_ptr().cast();
        *outlen = conn.out.len() as c_uint;
    }
    code
}

unsafe extern "C" fn client_mech_step(
    conn_context: *mut c_void,
    cparams: *mut sasl_client_params_t,
    serverin: *const c_char,
    serverinlen: c_uint,
    prompt_need: *mut *mut sasl_interact_t,
    clientout: *mut *const c_char,
    clientoutlen: *mut c_uint,
    oparams: *mut sasl_out_params_t,
) -> c_int {
    let Some(params) = cparams.as_ref() else {
        return codes::BADPARAM;
    };
    let Some(utils_raw) = params.utils.as_ref() else {
        return codes::BADPARAM;
    };
    let utils = Utils(utils_raw);
    guarded(Some(Utils(utils_raw)), || {
        if conn_context.is_null()
            || clientout.is_null()
            || clientoutlen.is_null()
            || oparams.is_null()
        {
            return codes::BADPARAM;
        }
        *clientout = ptr::null();
        *clientoutlen = 0;
        if !params.http_request.is_null() {
            utils.seterror("DIGEST-MD5: HTTP Digest mode is not supported by this plugin");
            return codes::NOMECH;
        }
        let conn = &mut *conn_context.cast::<Conn>();
        // Prompts handed back to us belong to this call now (read and freed by it).
        if !prompt_need.is_null() && *prompt_need == conn.prompts {
            conn.prompts = ptr::null_mut();
        }
        let Role::Client(client) = &mut conn.role else {
            return codes::BADPARAM;
        };
        let input = ClientInput {
            service: string_of(params.service, params.servicelen).unwrap_or_default(),
            server_fqdn: string_of(params.serverFQDN, params.slen).unwrap_or_default(),
            props: props_of(&params.props, params.external_ssf),
            token: if serverin.is_null() {
                None
            } else {
                Some(slice_of(serverin, serverinlen))
            },
        };
        let gather = |realms: Option<&[String]>| gather_creds(utils_raw, prompt_need, realms);
        let canon_fn = |name: &str, flags: u32| -> Result<(String, String), c_int> {
            let r = canon(params.canon_user, utils_raw.conn, name, flags, oparams);
            if r != codes::OK {
                return Err(r);
            }
            let o = &*oparams;
            Ok((
                string_of(o.authid, o.alen).unwrap_or_default(),
                string_of(o.user, o.ulen).unwrap_or_default(),
            ))
        };
        let result = client.step(input, gather, canon_fn, &utils);
        // Prompts we made and the application answered are ours to free: normally
        // when we read them, but also when a step fails before reading them.
        if matches!(result, Err(codes::INTERACT)) {
            conn.prompts = if prompt_need.is_null() {
                ptr::null_mut()
            } else {
                *prompt_need
            };
        } else {
            let mut ask = ClientAsk {
                utils: utils_raw,
                prompts: prompt_need,
                need: Vec::new(),
            };
            ask.free_prompts();
            conn.prompts = ptr::null_mut();
        }
        hand_out(conn, result, clientout, clientoutlen, oparams)
    })
}

unsafe extern "C" fn server_mech_step(
    conn_context: *mut c_void,
    sparams: *mut sasl_server_params_t,
    clientin: *const c_char,
    clientinlen: c_uint,
    serverout: *mut *const c_char,
    serveroutlen: *mut c_uint,
    oparams: *mut sasl_out_params_t,
) -> c_int {
    let Some(params) = sparams.as_ref() else {
        return codes::BADPARAM;
    };
    let Some(utils_raw) = params.utils.as_ref() else {
        return codes::BADPARAM;
    };
    let utils = Utils(utils_raw);
    guarded(Some(Utils(utils_raw)), || {
        if conn_context.is_null()
            || serverout.is_null()
            || serveroutlen.is_null()
            || oparams.is_null()
        {
            return codes::BADPARAM;
        }
        *serverout = ptr::null();
        *serveroutlen = 0;
        if !params.http_request.is_null() {
            utils.seterror("DIGEST-MD5: HTTP Digest mode is not supported by this plugin");
            return codes::NOMECH;
        }
        let conn = &mut *conn_context.cast::<Conn>();
        let Role::Server(server) = &mut conn.role else {
            return codes::BADPARAM;
        };
        let input = ServerInput {
            service: string_of(params.service, params.servicelen).unwrap_or_default(),
            server_fqdn: string_of(params.serverFQDN, params.slen).unwrap_or_default(),
            user_realm: string_of(params.user_realm, params.urlen).filter(|s| !s.is_empty()),
            props: props_of(&params.props, params.external_ssf),
            transition: params.transition.is_some(),
            token: if clientin.is_null() || clientinlen == 0 {
                None
            } else {
                Some(slice_of(clientin, clientinlen))
            },
        };
        // The user's secret: request the properties, canonicalize (which runs the
        // auxprop lookup), read them, erase the password from the context.
        let lookup = |user: &str, authzid: Option<&str>| -> Result<crate::server::Found, c_int> {
            let names: [*const c_char; 3] = [
                c"*userPassword".as_ptr(),
                c"*cmusaslsecretDIGEST-MD5".as_ptr(),
                ptr::null(),
            ];
            if let Some(req) = utils_raw.prop_request {
                let r = req(params.propctx, names.as_ptr());
                if r != codes::OK {
                    return Err(r);
                }
            }
            let flags = codes::CU_AUTHID
                | if authzid.is_none() {
                    codes::CU_AUTHZID
                } else {
                    0
                };
            let r = canon(params.canon_user, utils_raw.conn, user, flags, oparams);
            if r != codes::OK {
                return Err(r);
            }
            if let Some(z) = authzid {
                let r = canon(
                    params.canon_user,
                    utils_raw.conn,
                    z,
                    codes::CU_AUTHZID,
                    oparams,
                );
                if r != codes::OK {
                    return Err(r);
                }
            }
            let mut vals: [propval; 2] = std::mem::zeroed();
            let mut found = crate::server::Found::default();
            if let Some(get) = utils_raw.prop_getnames {
                let r = get(params.propctx, names.as_ptr(), vals.as_mut_ptr());
                if r < 0 {
                    return Err(r);
                }
                // One value: `valsize` is its length (a precomputed secret is 16 raw
                // bytes and may hold a NUL); otherwise the first NUL-terminated value.
                let first = |v: &propval| -> Option<Vec<u8>> {
                    if v.name.is_null() || v.values.is_null() || (*v.values).is_null() {
                        None
                    } else if v.nvalues == 1 && v.valsize > 0 {
                        Some(bytes_of(*v.values, v.valsize))
                    } else {
                        Some(bytes_of(*v.values, 0))
                    }
                };
                found.password = first(&vals[0]).map(zeroize::Zeroizing::new);
                found.secret = first(&vals[1]);
            }
            if let Some(erase) = utils_raw.prop_erase {
                erase(params.propctx, names[0]);
            }
            Ok(found)
        };
        let result = server.step(input, lookup, &utils);
        hand_out(conn, result, serverout, serveroutlen, oparams)
    })
}

/// `oparams->encode`: libsasl2 passes the mechanism's conn_context.
unsafe extern "C" fn layer_encode(
    context: *mut c_void,
    invec: *const iovec,
    numiov: c_uint,
    output: *mut *const c_char,
    outputlen: *mut c_uint,
) -> c_int {
    guarded(None, || {
        if context.is_null()
            || output.is_null()
            || outputlen.is_null()
            || (invec.is_null() && numiov > 0)
        {
            return codes::BADPARAM;
        }
        let conn = &mut *context.cast::<Conn>();
        let Some(layer) = conn.layer.as_mut() else {
            return codes::NOTDONE;
        };
        let iov = if numiov == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(invec, numiov as usize)
        };
        let parts: Vec<&[u8]> = iov
            .iter()
            .map(|v| {
                if v.iov_base.is_null() || v.iov_len == 0 {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(v.iov_base.cast::<u8>(), v.iov_len)
                }
            })
            .collect();
        match layer.encode(&parts) {
            Ok(out) => match c_uint::try_from(out.len()) {
                Ok(n) => {
                    *output = out.as_ptr().cast();
                    *outputlen = n;
                    codes::OK
                }
                Err(_) => codes::BUFOVER,
            },
            Err(code) => code,
        }
    })
}

/// `oparams->decode`: any chunking of the stream.
unsafe extern "C" fn layer_decode(
    context: *mut c_void,
    input: *const c_char,
    inputlen: c_uint,
    output: *mut *const c_char,
    outputlen: *mut c_uint,
) -> c_int {
    guarded(None, || {
        if context.is_null() || output.is_null() || outputlen.is_null() {
            return codes::BADPARAM;
        }
        let conn = &mut *context.cast::<Conn>();
        let Some(layer) = conn.layer.as_mut() else {
            return codes::NOTDONE;
        };
        match layer.decode(slice_of(input, inputlen)) {
            Ok(out) => match c_uint::try_from(out.len()) {
                Ok(n) => {
                    *output = if n == 0 {
                        ptr::null()
                    } else {
                        out.as_ptr().cast()
                    };
                    *outputlen = n;
                    codes::OK
                }
                Err(_) => codes::BUFOVER,
            },
            Err(code) => code,
        }
    })
}
