//! One nghttp2 client session, driven without I/O: bytes in through [`H2Session::recv`], bytes out
//! through [`H2Session::pending_output`]. nghttp2's callbacks are forwarded to an [`H2Handler`].
//! nghttp2 allocates through [`mem`] so its heap use is counted.

use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use libnghttp2_sys as ng;
use std::ptr::NonNull;

use super::pool::Pool;

/// What the body source had for a request stream.
pub enum BodyChunk {
    /// `n` bytes were written; more will follow.
    Data(usize),
    /// `n` bytes were written and the body is complete.
    Last(usize),
    /// Nothing now; the stream is resumed with [`H2Session::resume`].
    Deferred,
}

/// Receives what happens on the session. Called only from inside [`H2Session::recv`] and
/// [`H2Session::fill_output`].
pub trait H2Handler {
    /// One response header field.
    fn on_header(&mut self, stream_id: i32, name: &[u8], value: &[u8]);
    /// The response header block of `stream_id` is complete.
    fn on_headers_done(&mut self, stream_id: i32);
    /// A piece of a response body.
    fn on_data(&mut self, stream_id: i32, data: &[u8]);
    /// The stream closed (`error_code` 0 for a normal close).
    fn on_stream_close(&mut self, stream_id: i32, error_code: u32);
    /// The server acknowledged our PING.
    fn on_ping_ack(&mut self);
    /// The server sent GOAWAY: streams above `last_stream_id` were not processed.
    fn on_goaway(&mut self, last_stream_id: i32, error_code: u32);
    /// Fills `buf` with the next bytes of the request body of `stream_id`.
    fn read_body(&mut self, stream_id: i32, buf: &mut [u8]) -> BodyChunk;
}

/// An nghttp2 failure, with its library error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Error(pub i32);

impl std::fmt::Display for H2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SAFETY: nghttp2_strerror returns a static NUL-terminated string for any code.
        let text = unsafe { std::ffi::CStr::from_ptr(ng::nghttp2_strerror(self.0)) };
        write!(f, "HTTP/2: {}", text.to_string_lossy())
    }
}

/// nghttp2's allocator (`nghttp2_mem`): every block comes from the client's [`Pool`], sized at
/// creation, so the HTTP/2 layer makes no heap calls after set-up. Process-wide counters (live
/// bytes, peak, calls) report what nghttp2 uses; tests can make the n-th allocation fail.
pub mod mem {
    use std::os::raw::c_void;

    use crate::transport::pool::{with_pool, Counters, Pool};

    static COUNTERS: Counters = Counters::new();

    /// Bytes nghttp2 holds now (all clients), its high-water mark, and its allocation calls.
    pub fn stats() -> (usize, usize, usize) {
        COUNTERS.stats()
    }

    /// Resets the high-water mark to the current level.
    pub fn reset_peak() {
        COUNTERS.reset_peak()
    }

    /// Failure injection for tests: the allocation call whose number (see [`stats`]) is `call`
    /// fails as if the pool were exhausted. `None` turns it off.
    pub fn fail_allocation_at(call: Option<usize>) {
        COUNTERS.fail_allocation_at(call)
    }

    /// Runs `f` on the client's pool; `None` if it panicked (a corrupted pool): these are C
    /// callbacks, and a panic must not unwind into nghttp2. nghttp2's `mem_user_data` is that
    /// pool, which outlives its sessions; the live pools' lock serialises this with mbedTLS's
    /// hooks.
    fn with<R>(ud: *mut c_void, f: impl FnOnce(&mut Pool) -> R) -> Option<R> {
        let pool = std::ptr::NonNull::new(ud as *mut Pool)?;
        // SAFETY: see above.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { with_pool(pool, f) })).ok()
    }

    fn take(p: &mut Pool, size: usize) -> *mut c_void {
        COUNTERS.alloc(p, size).map_or(std::ptr::null_mut(), |b| b.as_ptr() as *mut c_void)
    }

    pub(super) unsafe extern "C" fn malloc(size: usize, ud: *mut c_void) -> *mut c_void {
        with(ud, |p| take(p, size)).unwrap_or(std::ptr::null_mut())
    }

    pub(super) unsafe extern "C" fn free(ptr: *mut c_void, ud: *mut c_void) {
        if !ptr.is_null() {
            with(ud, |p| COUNTERS.free(p, ptr as *const u8));
        }
    }

    pub(super) unsafe extern "C" fn calloc(n: usize, size: usize, ud: *mut c_void) -> *mut c_void {
        let Some(total) = n.checked_mul(size) else { return std::ptr::null_mut() };
        let p = malloc(total, ud);
        if !p.is_null() {
            std::ptr::write_bytes(p as *mut u8, 0, total);
        }
        p
    }

    pub(super) unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize, ud: *mut c_void) -> *mut c_void {
        if ptr.is_null() {
            return malloc(size, ud);
        }
        with(ud, |p| {
            let old = p.size_of(ptr as *const u8).unwrap_or(0);
            if size <= old {
                return ptr;
            }
            let new = take(p, size);
            if !new.is_null() {
                // SAFETY: both blocks are the pool's, `old` bytes long at least, and distinct.
                unsafe { std::ptr::copy_nonoverlapping(ptr as *const u8, new as *mut u8, old) };
                COUNTERS.free(p, ptr as *const u8);
            }
            new
        })
        .unwrap_or(std::ptr::null_mut())
    }
}

/// A client HTTP/2 session.
pub struct H2Session {
    session: *mut ng::nghttp2_session,
    /// Output from `nghttp2_session_mem_send2`, valid until the next call; sent before asking for more.
    out_ptr: *const u8,
    out_len: usize,
}

/// The handler reference passed through nghttp2's `user_data` for the duration of one call.
type HandlerRef<'a> = &'a mut dyn H2Handler;

unsafe fn handler<'a>(user_data: *mut c_void) -> &'a mut HandlerRef<'a> {
    &mut *(user_data as *mut HandlerRef<'a>)
}

/// Runs a callback body, turning a panic into a session failure instead of unwinding through C.
fn guarded(f: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(ng::NGHTTP2_ERR_CALLBACK_FAILURE)
}

unsafe extern "C" fn on_header(
    _: *mut ng::nghttp2_session,
    frame: *const ng::nghttp2_frame,
    name: *const u8,
    namelen: usize,
    value: *const u8,
    valuelen: usize,
    _flags: u8,
    user_data: *mut c_void,
) -> c_int {
    guarded(|| {
        let stream_id = (*frame).hd.stream_id;
        let name = std::slice::from_raw_parts(name, namelen);
        let value = std::slice::from_raw_parts(value, valuelen);
        handler(user_data).on_header(stream_id, name, value);
        0
    })
}

unsafe extern "C" fn on_frame_recv(_: *mut ng::nghttp2_session, frame: *const ng::nghttp2_frame, user_data: *mut c_void) -> c_int {
    guarded(|| {
        let hd = (*frame).hd;
        let h = handler(user_data);
        match hd.type_ as u32 {
            t if t == ng::NGHTTP2_HEADERS as u32 => {
                if hd.flags as u32 & ng::NGHTTP2_FLAG_END_HEADERS as u32 != 0 {
                    h.on_headers_done(hd.stream_id);
                }
            }
            t if t == ng::NGHTTP2_PING as u32 => {
                if hd.flags as u32 & ng::NGHTTP2_FLAG_ACK as u32 != 0 {
                    h.on_ping_ack();
                }
            }
            t if t == ng::NGHTTP2_GOAWAY as u32 => {
                let g = (*frame).goaway;
                h.on_goaway(g.last_stream_id, g.error_code);
            }
            _ => {}
        }
        0
    })
}

unsafe extern "C" fn on_data_chunk(
    _: *mut ng::nghttp2_session,
    _flags: u8,
    stream_id: i32,
    data: *const u8,
    len: usize,
    user_data: *mut c_void,
) -> c_int {
    guarded(|| {
        handler(user_data).on_data(stream_id, std::slice::from_raw_parts(data, len));
        0
    })
}

unsafe extern "C" fn on_stream_close(_: *mut ng::nghttp2_session, stream_id: i32, error_code: u32, user_data: *mut c_void) -> c_int {
    guarded(|| {
        handler(user_data).on_stream_close(stream_id, error_code);
        0
    })
}

unsafe extern "C" fn read_body(
    _: *mut ng::nghttp2_session,
    stream_id: i32,
    buf: *mut u8,
    length: usize,
    data_flags: *mut u32,
    _: *mut ng::nghttp2_data_source,
    user_data: *mut c_void,
) -> ng::nghttp2_ssize {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let out = std::slice::from_raw_parts_mut(buf, length);
        match handler(user_data).read_body(stream_id, out) {
            BodyChunk::Data(n) => n as ng::nghttp2_ssize,
            BodyChunk::Last(n) => {
                *data_flags |= ng::NGHTTP2_DATA_FLAG_EOF as u32;
                n as ng::nghttp2_ssize
            }
            BodyChunk::Deferred => ng::NGHTTP2_ERR_DEFERRED as ng::nghttp2_ssize,
        }
    }));
    r.unwrap_or(ng::NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE as ng::nghttp2_ssize)
}

/// The callback table every session is created with: built once per process (nghttp2 copies it
/// into each session), so that a reconnection makes no heap call for it.
fn callbacks() -> Result<*const ng::nghttp2_session_callbacks, H2Error> {
    static TABLE: std::sync::atomic::AtomicPtr<ng::nghttp2_session_callbacks> = std::sync::atomic::AtomicPtr::new(ptr::null_mut());
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let built = TABLE.load(std::sync::atomic::Ordering::Acquire);
    if !built.is_null() {
        return Ok(built);
    }
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let built = TABLE.load(std::sync::atomic::Ordering::Acquire);
    if !built.is_null() {
        return Ok(built);
    }
    // SAFETY: standard nghttp2 set-up of a table that is never freed or changed afterwards.
    unsafe {
        let mut cbs = ptr::null_mut();
        let rv = ng::nghttp2_session_callbacks_new(&mut cbs);
        if rv != 0 {
            return Err(H2Error(rv));
        }
        ng::nghttp2_session_callbacks_set_on_header_callback(cbs, Some(on_header));
        ng::nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, Some(on_frame_recv));
        ng::nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, Some(on_data_chunk));
        ng::nghttp2_session_callbacks_set_on_stream_close_callback(cbs, Some(on_stream_close));
        TABLE.store(cbs, std::sync::atomic::Ordering::Release);
        Ok(cbs)
    }
}

/// A request header, for [`H2Session::submit_request`].
pub struct Header<'a>(pub &'a [u8], pub &'a [u8]);

impl H2Session {
    /// Creates a client session drawing its memory from `pool`, and queues the connection
    /// preface and SETTINGS. The pool must outlive the session.
    pub fn new(pool: NonNull<Pool>) -> Result<Self, H2Error> {
        // SAFETY: standard nghttp2 set-up; every pointer is checked and freed on every path.
        unsafe {
            let cbs = callbacks()?;
            let mut mem = ng::nghttp2_mem {
                mem_user_data: pool.as_ptr() as *mut c_void,
                malloc: Some(mem::malloc),
                free: Some(mem::free),
                calloc: Some(mem::calloc),
                realloc: Some(mem::realloc),
            };
            let mut session = ptr::null_mut();
            // nghttp2 copies the mem struct, so a stack value is fine.
            let rv = ng::nghttp2_session_client_new3(&mut session, cbs, ptr::null_mut(), ptr::null(), &mut mem);
            if rv != 0 {
                return Err(H2Error(rv));
            }
            let s = H2Session { session, out_ptr: ptr::null(), out_len: 0 };
            // No server push; a window big enough that a 1 MiB attachment never stalls on updates.
            let settings = [
                ng::nghttp2_settings_entry { settings_id: ng::NGHTTP2_SETTINGS_ENABLE_PUSH as i32, value: 0 },
                ng::nghttp2_settings_entry { settings_id: ng::NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE as i32, value: 1 << 20 },
            ];
            let rv = ng::nghttp2_submit_settings(s.session, ng::NGHTTP2_FLAG_NONE as u8, settings.as_ptr(), settings.len());
            if rv != 0 {
                return Err(H2Error(rv));
            }
            Ok(s)
        }
    }

    fn with_handler<R>(&mut self, handler: &mut dyn H2Handler, f: impl FnOnce(*mut ng::nghttp2_session) -> R) -> R {
        let mut h: HandlerRef = handler;
        // SAFETY: `h` outlives the call; the pointer is cleared before `h` goes out of scope.
        unsafe { ng::nghttp2_session_set_user_data(self.session, &mut h as *mut HandlerRef as *mut c_void) };
        let r = f(self.session);
        unsafe { ng::nghttp2_session_set_user_data(self.session, ptr::null_mut()) };
        r
    }

    /// Feeds received bytes; callbacks fire on `handler` as frames complete.
    pub fn recv(&mut self, data: &[u8], handler: &mut dyn H2Handler) -> Result<(), H2Error> {
        let rv = self.with_handler(handler, |s| unsafe { ng::nghttp2_session_mem_recv2(s, data.as_ptr(), data.len()) });
        if rv < 0 {
            Err(H2Error(rv as i32))
        } else {
            Ok(())
        }
    }

    /// Bytes waiting to be sent, produced by [`fill_output`](Self::fill_output).
    pub fn pending_output(&self) -> &[u8] {
        if self.out_len == 0 {
            return &[];
        }
        // SAFETY: nghttp2 keeps this buffer valid until the next mem_send2 call, which happens only
        // in fill_output, after the slice is consumed.
        unsafe { std::slice::from_raw_parts(self.out_ptr, self.out_len) }
    }

    /// Marks `n` pending bytes as sent.
    pub fn consume_output(&mut self, n: usize) {
        let n = n.min(self.out_len);
        // SAFETY: stays within the buffer nghttp2 returned.
        self.out_ptr = unsafe { self.out_ptr.add(n) };
        self.out_len -= n;
    }

    /// Asks nghttp2 for the next bytes to send (when the previous ones are all sent). Returns how
    /// many are now pending; 0 means nothing to send.
    pub fn fill_output(&mut self, handler: &mut dyn H2Handler) -> Result<usize, H2Error> {
        if self.out_len > 0 {
            return Ok(self.out_len);
        }
        let mut p: *const u8 = ptr::null();
        let rv = self.with_handler(handler, |s| unsafe { ng::nghttp2_session_mem_send2(s, &mut p) });
        if rv < 0 {
            return Err(H2Error(rv as i32));
        }
        self.out_ptr = p;
        self.out_len = rv as usize;
        Ok(self.out_len)
    }

    /// Submits a request. With `with_body`, the body is pulled through [`H2Handler::read_body`].
    pub fn submit_request(&mut self, headers: &[Header], with_body: bool) -> Result<i32, H2Error> {
        const MAX_HEADERS: usize = 8;
        if headers.len() > MAX_HEADERS {
            return Err(H2Error(ng::NGHTTP2_ERR_INVALID_ARGUMENT));
        }
        let empty = ng::nghttp2_nv { name: ptr::null_mut(), value: ptr::null_mut(), namelen: 0, valuelen: 0, flags: 0 };
        let mut nva = [empty; MAX_HEADERS];
        for (nv, h) in nva.iter_mut().zip(headers) {
            *nv = ng::nghttp2_nv {
                name: h.0.as_ptr() as *mut u8,
                value: h.1.as_ptr() as *mut u8,
                namelen: h.0.len(),
                valuelen: h.1.len(),
                // Credentials are never put in HPACK's tables (RFC 7541 §7.1.3): no copy of the
                // token outlives the request in the session, and none can leak by compression.
                flags: if h.0.eq_ignore_ascii_case(b"authorization") { ng::NGHTTP2_NV_FLAG_NO_INDEX } else { ng::NGHTTP2_NV_FLAG_NONE } as u8,
            };
        }
        let provider = ng::nghttp2_data_provider2 {
            source: ng::nghttp2_data_source { ptr: ptr::null_mut() },
            read_callback: Some(read_body),
        };
        let prd = if with_body { &provider as *const _ } else { ptr::null() };
        // SAFETY: nva and provider are valid for the call; nghttp2 copies header values.
        let id = unsafe { ng::nghttp2_submit_request2(self.session, ptr::null(), nva.as_ptr(), headers.len(), prd, ptr::null_mut()) };
        if id < 0 {
            Err(H2Error(id))
        } else {
            Ok(id)
        }
    }

    /// Resumes a stream whose body source returned [`BodyChunk::Deferred`].
    pub fn resume(&mut self, stream_id: i32) {
        // SAFETY: valid session; an unknown or non-deferred stream is reported and ignored.
        unsafe { ng::nghttp2_session_resume_data(self.session, stream_id) };
    }

    /// Queues a PING.
    pub fn ping(&mut self) -> Result<(), H2Error> {
        // SAFETY: valid session; NULL opaque data means eight zero bytes.
        let rv = unsafe { ng::nghttp2_submit_ping(self.session, ng::NGHTTP2_FLAG_NONE as u8, ptr::null()) };
        if rv != 0 {
            Err(H2Error(rv))
        } else {
            Ok(())
        }
    }

    /// Queues a GOAWAY (NO_ERROR) so the server knows this connection is being retired.
    pub fn goaway(&mut self) {
        // SAFETY: valid session.
        unsafe { ng::nghttp2_session_terminate_session(self.session, ng::NGHTTP2_NO_ERROR) };
    }

    /// Cancels one stream.
    pub fn reset_stream(&mut self, stream_id: i32) {
        // SAFETY: valid session.
        unsafe { ng::nghttp2_submit_rst_stream(self.session, ng::NGHTTP2_FLAG_NONE as u8, stream_id, ng::NGHTTP2_CANCEL) };
    }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited until its SETTINGS arrive).
    pub fn remote_max_concurrent_streams(&self) -> u32 {
        // SAFETY: valid session.
        unsafe { ng::nghttp2_session_get_remote_settings(self.session, ng::NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) }
    }

    /// Whether nghttp2 still wants to read or write: false once the session is finished.
    pub fn is_alive(&self) -> bool {
        // SAFETY: valid session.
        let wants = unsafe { ng::nghttp2_session_want_read(self.session) != 0 || ng::nghttp2_session_want_write(self.session) != 0 };
        wants || self.out_len > 0
    }
}

impl Drop for H2Session {
    fn drop(&mut self) {
        // SAFETY: the session is owned here and deleted once.
        unsafe { ng::nghttp2_session_del(self.session) };
    }
}
