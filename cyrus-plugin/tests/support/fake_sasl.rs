//! A minimal stand-in for libsasl2's side of the plugin ABI, to drive the plugin's C
//! entry points in-process without libsasl2: `sasl_utils_t` (malloc/free, callbacks,
//! seterror, auxprop), `canon_user`, and the params/out-params a mechanism sees.
//! Used by `tests/entry_points.rs` and the fuzz target `cyrus_plugin`.
//!
//! Test code only: it fakes what libsasl2 does with raw pointers, hence `unsafe`.
#![allow(
    dead_code,
    clippy::missing_safety_doc,
    clippy::missing_transmute_annotations
)]

use std::alloc::{alloc, dealloc, Layout};
use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr, CString};
use std::ptr;

use digestmd5::ffi::*;

const OK: c_int = 0;
const FAIL: c_int = -1;
const INTERACT: c_int = 2;

/// What the fake application answers and knows.
pub struct Env {
    pub authname: String,
    pub authzid: String,
    pub password: Vec<u8>,
    /// Answer credentials through `SASL_INTERACT` prompts instead of callbacks.
    pub interact: bool,
    /// Server: user -> userPassword.
    pub users: Vec<(String, Vec<u8>)>,
    /// The last `seterror` text.
    pub error: String,
    /// `getopt` answers: (option, value), e.g. ("reauth_timeout", "10").
    pub options: Vec<(String, String)>,
    // Storage the plugin gets pointers into.
    canon_authid: CString,
    canon_user: CString,
    lookup: Option<String>,
    prop_value: CString,
    prop_values: [*const c_char; 2],
    secret: Vec<u64>,
    strings: Vec<CString>,
}

pub struct Harness {
    pub env: Box<Env>,
    utils: Box<sasl_utils_t>,
}

// --- allocation: a size header in front of each block -------------------------

thread_local! {
    /// Blocks from `utils->malloc` not yet freed, on this thread.
    pub static LIVE_BLOCKS: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

unsafe extern "C" fn h_malloc(n: usize) -> *mut c_void {
    LIVE_BLOCKS.with(|c| c.set(c.get() + 1));
    let layout = Layout::from_size_align(n + 16, 16).unwrap();
    let p = alloc(layout);
    if p.is_null() {
        return p.cast();
    }
    p.cast::<usize>().write(n);
    p.add(16).cast()
}

unsafe extern "C" fn h_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    LIVE_BLOCKS.with(|c| c.set(c.get() - 1));
    let base = p.cast::<u8>().sub(16);
    let n = base.cast::<usize>().read();
    dealloc(base, Layout::from_size_align(n + 16, 16).unwrap());
}

// --- callbacks -------------------------------------------------------------------

unsafe fn env<'a>(p: *mut c_void) -> &'a mut Env {
    &mut *p.cast::<Env>()
}

// seterror and log are variadic in C; the plugin always calls them with "%s" and one
// string, which this fixed-argument function receives the same way on x86-64.
unsafe extern "C" fn h_seterror(
    conn: *mut c_void,
    _flags: c_uint,
    fmt: *const c_char,
    arg: *const c_char,
) {
    let e = env(conn);
    e.error = if CStr::from_ptr(fmt).to_bytes() == b"%s" && !arg.is_null() {
        CStr::from_ptr(arg).to_string_lossy().into_owned()
    } else {
        CStr::from_ptr(fmt).to_string_lossy().into_owned()
    };
}

unsafe extern "C" fn h_getsimple(
    ctx: *mut c_void,
    id: c_int,
    out: *mut *const c_char,
    len: *mut c_uint,
) -> c_int {
    let e = env(ctx);
    let v = match id as c_ulong {
        0x4001 => e.authzid.clone(),
        0x4002 => e.authname.clone(),
        _ => return FAIL,
    };
    let c = CString::new(v).unwrap();
    *out = c.as_ptr();
    if !len.is_null() {
        *len = c.as_bytes().len() as c_uint;
    }
    e.strings.push(c);
    OK
}

unsafe extern "C" fn h_getsecret(
    conn: *mut c_void,
    _ctx: *mut c_void,
    _id: c_int,
    out: *mut *mut sasl_secret_t,
) -> c_int {
    let e = env(conn);
    // sasl_secret_t: unsigned long len, then the bytes.
    let words = 1 + e.password.len().div_ceil(8);
    e.secret = vec![0u64; words];
    let p = e.secret.as_mut_ptr().cast::<u8>();
    p.cast::<c_ulong>().write(e.password.len() as c_ulong);
    ptr::copy_nonoverlapping(e.password.as_ptr(), p.add(8), e.password.len());
    *out = p.cast();
    OK
}

unsafe extern "C" fn h_getcallback(
    conn: *mut c_void,
    id: c_ulong,
    proc_: *mut Option<unsafe extern "C" fn()>,
    ctx: *mut *mut c_void,
) -> c_int {
    let e = env(conn);
    if e.interact && matches!(id, 0x4001 | 0x4002 | 0x4004 | 0x4008) {
        return INTERACT;
    }
    *ctx = conn;
    *proc_ = match id {
        0x4001 | 0x4002 => Some(std::mem::transmute::<*const (), unsafe extern "C" fn()>(
            h_getsimple as *const (),
        )),
        0x4004 => Some(std::mem::transmute::<*const (), unsafe extern "C" fn()>(
            h_getsecret as *const (),
        )),
        _ => return FAIL,
    };
    OK
}

unsafe extern "C" fn h_canon(
    conn: *mut c_void,
    input: *const c_char,
    len: c_uint,
    flags: c_uint,
    o: *mut sasl_out_params_t,
) -> c_int {
    let e = env(conn);
    let bytes = if len == 0 {
        CStr::from_ptr(input).to_bytes().to_vec()
    } else {
        std::slice::from_raw_parts(input.cast::<u8>(), len as usize).to_vec()
    };
    let Ok(name) = CString::new(bytes) else {
        return FAIL;
    };
    if flags & 1 != 0 {
        e.lookup = Some(name.to_string_lossy().into_owned());
        e.canon_authid = name.clone();
        (*o).authid = e.canon_authid.as_ptr();
        (*o).alen = e.canon_authid.as_bytes().len() as c_uint;
    }
    if flags & 2 != 0 {
        e.canon_user = name;
        (*o).user = e.canon_user.as_ptr();
        (*o).ulen = e.canon_user.as_bytes().len() as c_uint;
    }
    OK
}

unsafe extern "C" fn h_prop_request(_ctx: *mut c_void, _names: *const *const c_char) -> c_int {
    OK
}

unsafe extern "C" fn h_prop_getnames(
    ctx: *mut c_void,
    names: *const *const c_char,
    vals: *mut propval,
) -> c_int {
    let e = env(ctx);
    let mut i = 0;
    let mut found = 0;
    while !(*names.add(i)).is_null() {
        let v = &mut *vals.add(i);
        v.name = *names.add(i);
        v.values = ptr::null_mut();
        v.nvalues = 0;
        v.valsize = 0;
        let name = CStr::from_ptr(*names.add(i)).to_bytes();
        if name == b"*userPassword" {
            let user = e.lookup.clone().unwrap_or_default();
            if let Some((_, p)) = e.users.iter().find(|(u, _)| *u == user) {
                e.prop_value = CString::new(p.clone()).unwrap();
                e.prop_values = [e.prop_value.as_ptr(), ptr::null()];
                v.values = e.prop_values.as_mut_ptr();
                v.nvalues = 1;
                v.valsize = p.len() as c_uint;
                found += 1;
            }
        }
        i += 1;
    }
    found
}

unsafe extern "C" fn h_getopt(
    ctx: *mut c_void,
    _plugin: *const c_char,
    option: *const c_char,
    out: *mut *const c_char,
    len: *mut c_uint,
) -> c_int {
    let e = env(ctx);
    let name = CStr::from_ptr(option).to_string_lossy().into_owned();
    let Some((_, v)) = e.options.iter().find(|(k, _)| *k == name) else {
        return FAIL;
    };
    let c = CString::new(v.clone()).unwrap();
    *out = c.as_ptr();
    if !len.is_null() {
        *len = c.as_bytes().len() as c_uint;
    }
    e.strings.push(c);
    OK
}

unsafe extern "C" fn h_prop_erase(_ctx: *mut c_void, _name: *const c_char) {}

impl Harness {
    pub fn new(env: Env) -> Harness {
        let mut env = Box::new(env);
        let conn: *mut c_void = (&mut *env as *mut Env).cast();
        // SAFETY: an all-zero sasl_utils_t is all NULL pointers and None.
        let mut u: Box<sasl_utils_t> = Box::new(unsafe { std::mem::zeroed() });
        u.version = 4;
        u.conn = conn;
        u.getopt_context = conn;
        u.getopt = Some(h_getopt);
        u.malloc = Some(h_malloc);
        u.free = Some(h_free);
        u.getcallback = Some(h_getcallback);
        // SAFETY: see h_seterror.
        u.seterror = Some(unsafe { std::mem::transmute::<*const (), _>(h_seterror as *const ()) });
        u.log = Some(unsafe { std::mem::transmute::<*const (), _>(h_seterror as *const ()) });
        u.prop_request = Some(h_prop_request);
        u.prop_getnames = Some(h_prop_getnames);
        u.prop_erase = Some(h_prop_erase);
        Harness { env, utils: u }
    }

    fn conn(&mut self) -> *mut c_void {
        (&mut *self.env as *mut Env).cast()
    }

    pub fn client_plug(&self) -> &'static sasl_client_plug_t {
        let mut v = 0;
        let mut list: *const sasl_client_plug_t = ptr::null();
        let mut n = 0;
        let r = unsafe { sasl_client_plug_init(&*self.utils, 4, &mut v, &mut list, &mut n) };
        assert_eq!((r, v, n), (OK, 4, 1));
        unsafe { &*list }
    }

    pub fn server_plug(&self) -> &'static sasl_server_plug_t {
        let mut v = 0;
        let mut list: *const sasl_server_plug_t = ptr::null();
        let mut n = 0;
        let r = unsafe { sasl_server_plug_init(&*self.utils, 4, &mut v, &mut list, &mut n) };
        assert_eq!((r, v, n), (OK, 4, 1));
        unsafe { &*list }
    }
}

/// Security properties as an application sets them.
#[derive(Clone, Copy)]
pub struct Sec {
    pub min_ssf: u32,
    pub max_ssf: u32,
    pub maxbufsize: u32,
}

fn props(s: Sec) -> sasl_security_properties_t {
    sasl_security_properties_t {
        min_ssf: s.min_ssf,
        max_ssf: s.max_ssf,
        maxbufsize: s.maxbufsize,
        security_flags: 0,
        property_names: ptr::null_mut(),
        property_values: ptr::null_mut(),
    }
}

/// One plugin connection (client or server) and what it reported.
pub struct Conn {
    plug_step_c: Option<&'static sasl_client_plug_t>,
    plug_step_s: Option<&'static sasl_server_plug_t>,
    ctx: *mut c_void,
    cparams: Box<sasl_client_params_t>,
    sparams: Box<sasl_server_params_t>,
    pub oparams: Box<sasl_out_params_t>,
    prompts: *mut sasl_interact_t,
    strings: Vec<CString>,
}

impl Conn {
    pub fn client(h: &mut Harness, service: &str, host: &str, sec: Sec) -> Conn {
        let plug = h.client_plug();
        let service = CString::new(service).unwrap();
        let host = CString::new(host).unwrap();
        // SAFETY: all-zero params are NULL pointers, zero numbers and None.
        let mut cparams: Box<sasl_client_params_t> = Box::new(unsafe { std::mem::zeroed() });
        cparams.service = service.as_ptr();
        cparams.servicelen = service.as_bytes().len() as c_uint;
        cparams.serverFQDN = host.as_ptr();
        cparams.slen = host.as_bytes().len() as c_uint;
        cparams.utils = &*h.utils;
        cparams.props = props(sec);
        cparams.canon_user = Some(h_canon);
        let mut ctx = ptr::null_mut();
        let r = unsafe { (plug.mech_new.unwrap())(ptr::null_mut(), &mut *cparams, &mut ctx) };
        assert_eq!(r, OK);
        let _ = h.conn();
        Conn {
            plug_step_c: Some(plug),
            plug_step_s: None,
            ctx,
            cparams,
            sparams: Box::new(unsafe { std::mem::zeroed() }),
            oparams: Box::new(unsafe { std::mem::zeroed() }),
            prompts: ptr::null_mut(),
            strings: vec![service, host],
        }
    }

    pub fn server(h: &mut Harness, service: &str, host: &str, realm: &str, sec: Sec) -> Conn {
        let plug = h.server_plug();
        let service = CString::new(service).unwrap();
        let host = CString::new(host).unwrap();
        let realm = CString::new(realm).unwrap();
        // SAFETY: as above.
        let mut sparams: Box<sasl_server_params_t> = Box::new(unsafe { std::mem::zeroed() });
        sparams.service = service.as_ptr();
        sparams.servicelen = service.as_bytes().len() as c_uint;
        sparams.serverFQDN = host.as_ptr();
        sparams.slen = host.as_bytes().len() as c_uint;
        sparams.user_realm = realm.as_ptr();
        sparams.urlen = realm.as_bytes().len() as c_uint;
        sparams.utils = &*h.utils;
        sparams.props = props(sec);
        sparams.canon_user = Some(h_canon);
        sparams.propctx = h.conn();
        let mut ctx = ptr::null_mut();
        let r = unsafe {
            (plug.mech_new.unwrap())(ptr::null_mut(), &mut *sparams, ptr::null(), 0, &mut ctx)
        };
        assert_eq!(r, OK);
        Conn {
            plug_step_c: None,
            plug_step_s: Some(plug),
            ctx,
            cparams: Box::new(unsafe { std::mem::zeroed() }),
            sparams,
            oparams: Box::new(unsafe { std::mem::zeroed() }),
            prompts: ptr::null_mut(),
            strings: vec![service, host, realm],
        }
    }

    /// One step: the result code and the output token; prompts are answered (as
    /// the application would) when the result is `SASL_INTERACT`.
    pub fn step(&mut self, h: &mut Harness, input: Option<&[u8]>) -> (c_int, Vec<u8>) {
        self.step_with(h, input, true)
    }

    /// One step, leaving any prompts unanswered.
    pub fn step_raw(&mut self, h: &mut Harness, input: Option<&[u8]>) -> (c_int, Vec<u8>) {
        self.step_with(h, input, false)
    }

    fn step_with(
        &mut self,
        h: &mut Harness,
        input: Option<&[u8]>,
        answer: bool,
    ) -> (c_int, Vec<u8>) {
        let (p, n) = match input {
            Some(b) => (b.as_ptr().cast::<c_char>(), b.len() as c_uint),
            None => (ptr::null(), 0),
        };
        let mut out: *const c_char = ptr::null();
        let mut outlen: c_uint = 0;
        let r = unsafe {
            if let Some(plug) = self.plug_step_c {
                let r = (plug.mech_step.unwrap())(
                    self.ctx,
                    &mut *self.cparams,
                    p,
                    n,
                    &mut self.prompts,
                    &mut out,
                    &mut outlen,
                    &mut *self.oparams,
                );
                if r == INTERACT && answer {
                    self.answer_prompts(h);
                }
                r
            } else {
                let plug = self.plug_step_s.unwrap();
                (plug.mech_step.unwrap())(
                    self.ctx,
                    &mut *self.sparams,
                    p,
                    n,
                    &mut out,
                    &mut outlen,
                    &mut *self.oparams,
                )
            }
        };
        let tok = if out.is_null() {
            Vec::new()
        } else {
            unsafe { std::slice::from_raw_parts(out.cast::<u8>(), outlen as usize).to_vec() }
        };
        (r, tok)
    }

    /// Fills the plugin's prompts as lutil_sasl_interact does.
    fn answer_prompts(&mut self, h: &mut Harness) {
        let mut p = self.prompts;
        assert!(!p.is_null(), "SASL_INTERACT without prompts");
        unsafe {
            while (*p).id != 0 {
                let v = match (*p).id {
                    0x4001 => h.env.authzid.clone().into_bytes(),
                    0x4002 => h.env.authname.clone().into_bytes(),
                    0x4004 => h.env.password.clone(),
                    _ => Vec::new(),
                };
                let c = CString::new(v).unwrap();
                (*p).result = c.as_ptr().cast();
                (*p).len = c.as_bytes().len() as c_uint;
                self.strings.push(c);
                p = p.add(1);
            }
        }
    }

    pub fn ssf(&self) -> u32 {
        self.oparams.mech_ssf
    }

    pub fn encode(&mut self, parts: &[&[u8]]) -> Result<Vec<u8>, c_int> {
        let f = self.oparams.encode.ok_or(FAIL)?;
        let iov: Vec<iovec> = parts
            .iter()
            .map(|p| iovec {
                iov_base: p.as_ptr() as *mut c_void,
                iov_len: p.len(),
            })
            .collect();
        let mut out: *const c_char = ptr::null();
        let mut n: c_uint = 0;
        let r = unsafe {
            f(
                self.ctx,
                iov.as_ptr(),
                iov.len() as c_uint,
                &mut out,
                &mut n,
            )
        };
        if r != OK {
            return Err(r);
        }
        Ok(unsafe { std::slice::from_raw_parts(out.cast::<u8>(), n as usize).to_vec() })
    }

    pub fn decode(&mut self, input: &[u8]) -> Result<Vec<u8>, c_int> {
        let f = self.oparams.decode.ok_or(FAIL)?;
        let mut out: *const c_char = ptr::null();
        let mut n: c_uint = 0;
        let r = unsafe {
            f(
                self.ctx,
                input.as_ptr().cast(),
                input.len() as c_uint,
                &mut out,
                &mut n,
            )
        };
        if r != OK {
            return Err(r);
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        Ok(unsafe { std::slice::from_raw_parts(out.cast::<u8>(), n as usize).to_vec() })
    }

    pub fn dispose(self, h: &Harness) {
        let dispose = match (self.plug_step_c, self.plug_step_s) {
            (Some(c), _) => c.mech_dispose.unwrap(),
            (_, Some(s)) => s.mech_dispose.unwrap(),
            _ => unreachable!(),
        };
        unsafe { dispose(self.ctx, &*h.utils) };
    }
}

impl Env {
    pub fn new(authname: &str, password: &str) -> Env {
        Env {
            authname: authname.into(),
            authzid: String::new(),
            password: password.as_bytes().to_vec(),
            interact: false,
            users: Vec::new(),
            error: String::new(),
            options: Vec::new(),
            canon_authid: CString::default(),
            canon_user: CString::default(),
            lookup: None,
            prop_value: CString::default(),
            prop_values: [ptr::null(); 2],
            secret: Vec::new(),
            strings: Vec::new(),
        }
    }
}
