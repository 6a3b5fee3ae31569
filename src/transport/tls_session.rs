//! A TLS session used again and again, one short exchange after another: the token endpoint of
//! Login with Amazon gets a request every hour (a refresh) or every few seconds (while linking),
//! and none of those may allocate once the client runs. The mbedTLS context, the I/O adapter
//! and the byte stream are made on first use and reused; what mbedTLS needs per session comes
//! from the session's own pool and goes back to it when the session ends.
//!
//! Raw mbedTLS calls: the mbedtls crate's `Context` boxes its I/O adapter and copies the host
//! name into a `CString` for every session. Verification is the same as the AVS connection's
//! (same CA set, host name or iPAddress SAN, TLS 1.2+, [`super::tls`]).

use std::net::IpAddr;
use std::os::raw::{c_char, c_int, c_uchar, c_void};
use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;

use mbedtls::x509::VerifyError;

use super::io::{Connection, IoError, Network};
use super::pool::Pool;
use super::tls::{describe, mem, out_of_memory, verify_ip, Alpn, ExpectedIp, NetStatus, TlsConfig, TlsError};

/// Longest host name a session connects to (DNS allows 253).
pub(crate) const HOST_MAX: usize = 255;

/// What mbedTLS's I/O callbacks reach: the byte stream and what went wrong under TLS.
struct RawIo {
    conn: Option<Box<dyn Connection>>,
    status: NetStatus,
}

impl RawIo {
    fn failed(&mut self, e: IoError) {
        self.status.last_error.set(Some(e));
        self.status.report.set(self.conn.as_ref().and_then(|c| c.failure_report()));
    }
}

// mbedTLS calls these from C: nothing may unwind out of them (a host's I/O callbacks are Rust
// code here, reached through `Connection`).

unsafe extern "C" fn raw_send(p: *mut c_void, buf: *const c_uchar, len: usize) -> c_int {
    // SAFETY: `p` is the session's boxed RawIo, set with the bio and alive as long as it.
    let io = unsafe { &mut *(p as *mut RawIo) };
    let Some(conn) = io.conn.as_mut() else { return mbedtls_sys::ERR_NET_SEND_FAILED };
    // SAFETY: mbedTLS passes `len` readable bytes.
    let data = unsafe { std::slice::from_raw_parts(buf, len) };
    match std::panic::catch_unwind(AssertUnwindSafe(|| conn.send(data))) {
        Ok(Ok(n)) => n.min(c_int::MAX as usize) as c_int,
        Ok(Err(IoError::WouldBlock)) => mbedtls_sys::ERR_SSL_WANT_WRITE,
        Ok(Err(e)) => {
            io.failed(e);
            mbedtls_sys::ERR_NET_SEND_FAILED
        }
        Err(_) => {
            io.failed(IoError::Failed(libc::EIO));
            mbedtls_sys::ERR_NET_SEND_FAILED
        }
    }
}

unsafe extern "C" fn raw_recv(p: *mut c_void, buf: *mut c_uchar, len: usize) -> c_int {
    // SAFETY: as in `raw_send`.
    let io = unsafe { &mut *(p as *mut RawIo) };
    let Some(conn) = io.conn.as_mut() else { return mbedtls_sys::ERR_NET_RECV_FAILED };
    // SAFETY: mbedTLS passes `len` writable bytes.
    let data = unsafe { std::slice::from_raw_parts_mut(buf, len) };
    match std::panic::catch_unwind(AssertUnwindSafe(|| conn.recv(data))) {
        Ok(Ok(n)) => n.min(c_int::MAX as usize) as c_int,
        Ok(Err(IoError::WouldBlock)) => mbedtls_sys::ERR_SSL_WANT_READ,
        // End of stream: mbedTLS reads a 0 as the peer gone.
        Ok(Err(IoError::Closed)) => 0,
        Ok(Err(e)) => {
            io.failed(e);
            mbedtls_sys::ERR_NET_RECV_FAILED
        }
        Err(_) => {
            io.failed(IoError::Failed(libc::EIO));
            mbedtls_sys::ERR_NET_RECV_FAILED
        }
    }
}

/// One TLS session at a time over a reusable byte stream, non-blocking.
pub struct TlsSession {
    /// mbedTLS holds pointers to these two (the context, and the I/O adapter as the bio), so
    /// they are raw allocations made once ([`Box::into_raw`]), reached only through these
    /// pointers and freed in `drop`.
    ctx: NonNull<mbedtls_sys::ssl_context>,
    io: NonNull<RawIo>,
    /// Where mbedTLS's memory for this session comes from.
    pool: NonNull<Pool>,
    /// `ssl_setup` done: `ssl_free` owed.
    set_up: bool,
    established: bool,
    /// For an address endpoint: what [`verify_ip`] checks (mbedTLS holds a pointer to it).
    expected_ip: Box<ExpectedIp>,
    ip: bool,
    /// Where the kept byte stream goes (`host` and port), so that it is restarted only for the
    /// same place.
    target: heapless::String<HOST_MAX>,
    target_port: u16,
}

impl TlsSession {
    fn io(&self) -> &RawIo {
        // SAFETY: allocated in `new`, freed only in `drop`; mbedTLS uses it only inside our
        // calls into it, which take `&mut self`.
        unsafe { self.io.as_ref() }
    }

    fn io_mut(&mut self) -> &mut RawIo {
        // SAFETY: as in `io`.
        unsafe { self.io.as_mut() }
    }

    /// A session drawing mbedTLS's memory from `pool` (which must outlive it). Allocates its
    /// context once, here.
    pub fn new(pool: NonNull<Pool>) -> Self {
        let ctx: Box<mbedtls_sys::ssl_context> = Box::default();
        let io = Box::new(RawIo { conn: None, status: NetStatus::default() });
        TlsSession {
            // SAFETY: Box::into_raw never returns null.
            ctx: unsafe { NonNull::new_unchecked(Box::into_raw(ctx)) },
            io: unsafe { NonNull::new_unchecked(Box::into_raw(io)) },
            pool,
            set_up: false,
            established: false,
            expected_ip: Box::new(ExpectedIp::new(IpAddr::from([0u8; 4]))),
            ip: false,
            target: heapless::String::new(),
            target_port: 0,
        }
    }

    /// Starts a session with `host:port`, speaking `alpn`: over the byte stream of the last
    /// session, restarted, when it went to the same place (no name resolution, no allocation),
    /// else over a new one from `net`. The handshake goes on in [`handshake`](Self::handshake).
    pub fn start(&mut self, config: &TlsConfig, alpn: Alpn, net: &mut dyn Network, host: &str, port: u16) -> Result<(), TlsError> {
        self.close(true);
        let conf = config.raw(alpn).ok_or_else(|| TlsError::Protocol("no TLS configuration for this protocol".into()))?;
        if host.is_empty() || host.len() >= HOST_MAX || host.bytes().any(|b| b == 0) {
            return Err(TlsError::Protocol("host name empty, too long or with a NUL".into()));
        }
        let same_place = self.target.as_str() == host && self.target_port == port;
        let restarted = same_place && self.io_mut().conn.as_mut().is_some_and(|c| c.restart());
        if !restarted {
            self.io_mut().conn = None;
            self.target.clear();
            match net.connect(host, port) {
                Ok(conn) => self.io_mut().conn = Some(conn),
                Err(e) => {
                    let why = net.last_failure().unwrap_or_else(|| match e {
                        IoError::Failed(errno) => super::io::describe_errno(errno),
                        other => format!("{other:?}"),
                    });
                    return Err(TlsError::Connect(why));
                }
            }
            let _ = self.target.push_str(host);
            self.target_port = port;
        }
        self.io().status.last_error.set(None);
        self.io().status.report.set(None);
        self.io().status.want_write.set(false);

        let _scope = mem::Scope::enter(self.pool.as_ptr());
        let ctx: *mut mbedtls_sys::ssl_context = self.ctx.as_ptr();
        // SAFETY: `ctx` is this session's context, initialised here and freed by `close`;
        // `conf` lives in `config`, which outlives every session of the client.
        let rc = unsafe {
            mbedtls_sys::ssl_init(ctx);
            self.set_up = true;
            mbedtls_sys::ssl_setup(ctx, conf)
        };
        if rc != 0 {
            return Err(if out_of_memory(&mbedtls::Error::from(rc)) { TlsError::NoMemory } else { TlsError::Protocol(mbedtls::Error::from(rc).to_string()) });
        }
        // An IPv6 literal may carry a zone (`fe80::1%eth0`, RFC 6874): the zone picks the link,
        // the address alone is what the certificate names.
        let address = host.split_once('%').map_or(host, |(a, _)| a);
        self.ip = false;
        if let Ok(ip) = address.parse::<IpAddr>() {
            *self.expected_ip = ExpectedIp::new(ip);
            self.ip = true;
            let p = &*self.expected_ip as *const ExpectedIp as *mut c_void;
            // SAFETY: the boxed ExpectedIp outlives the session; NULL host name skips mbedTLS's
            // own check, which [`verify_ip`] replaces (as for the AVS connection).
            let rc = unsafe {
                mbedtls_sys::ssl_set_verify(ctx, Some(verify_ip), p);
                mbedtls_sys::ssl_set_hostname(ctx, std::ptr::null())
            };
            if rc != 0 {
                return Err(TlsError::Protocol("cannot clear the TLS host name".into()));
            }
        } else {
            let mut name = [0u8; HOST_MAX + 1];
            name[..host.len()].copy_from_slice(host.as_bytes());
            // SAFETY: `name` is NUL-terminated (checked above: no NUL inside, shorter than the
            // buffer); mbedTLS copies it (into the pool).
            let rc = unsafe { mbedtls_sys::ssl_set_hostname(ctx, name.as_ptr() as *const c_char) };
            if rc != 0 {
                return Err(if mem::refused_since_scope() { TlsError::NoMemory } else { TlsError::Protocol("host name refused by mbedTLS".into()) });
            }
        }
        let p = self.io.as_ptr() as *mut c_void;
        // SAFETY: the boxed RawIo outlives the session (the bio is set again for every session).
        unsafe { mbedtls_sys::ssl_set_bio(ctx, p, Some(raw_send), Some(raw_recv), None) };
        Ok(())
    }

    /// Advances the handshake; `Ok(true)` once established with the protocol asked for.
    pub fn handshake(&mut self) -> Result<bool, TlsError> {
        if self.established {
            return Ok(true);
        }
        if !self.set_up {
            return Err(TlsError::Io(IoError::Closed));
        }
        let _scope = mem::Scope::enter(self.pool.as_ptr());
        // SAFETY: the context was set up by `start`.
        let rc = unsafe { mbedtls_sys::ssl_handshake(self.ctx.as_ptr()) };
        match rc {
            0 => {
                // SAFETY: as above; the protocol string, if any, lives in the configuration.
                let chosen = unsafe { mbedtls_sys::ssl_get_alpn_protocol(self.ctx.as_ptr()) };
                // SAFETY: a NUL-terminated string from the configuration's list.
                let agreed = chosen.is_null() || unsafe { std::ffi::CStr::from_ptr(chosen) }.to_bytes() == b"http/1.1";
                if !agreed {
                    return Err(TlsError::Protocol("the server chose a protocol other than HTTP/1.1".into()));
                }
                self.established = true;
                Ok(true)
            }
            mbedtls_sys::ERR_SSL_WANT_READ | mbedtls_sys::ERR_SSL_WANT_WRITE => {
                self.io().status.want_write.set(rc == mbedtls_sys::ERR_SSL_WANT_WRITE);
                Ok(false)
            }
            rc => Err(self.describe(rc)),
        }
    }

    fn describe(&self, rc: c_int) -> TlsError {
        // SAFETY: the context was set up by `start`.
        let flags = VerifyError::from_bits_truncate(unsafe { mbedtls_sys::ssl_get_verify_result(self.ctx.as_ptr()) });
        describe(mbedtls::Error::from(rc), flags, self.ip, &self.io().status)
    }

    /// Encrypts and sends some of `buf`; with `WouldBlock`, call again later with the same bytes.
    pub fn send(&mut self, buf: &[u8]) -> Result<usize, TlsError> {
        if !self.established {
            return Err(TlsError::Io(IoError::WouldBlock));
        }
        let _scope = mem::Scope::enter(self.pool.as_ptr());
        // SAFETY: an established session; `buf` is readable for its length.
        let rc = unsafe { mbedtls_sys::ssl_write(self.ctx.as_ptr(), buf.as_ptr(), buf.len()) };
        match rc {
            n if n >= 0 => Ok(n as usize),
            mbedtls_sys::ERR_SSL_WANT_READ | mbedtls_sys::ERR_SSL_WANT_WRITE => {
                self.io().status.want_write.set(rc == mbedtls_sys::ERR_SSL_WANT_WRITE);
                Err(TlsError::Io(IoError::WouldBlock))
            }
            rc => Err(self.describe(rc)),
        }
    }

    /// Receives decrypted bytes; `Err(Io(Closed))` at the end of the session.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, TlsError> {
        if !self.established {
            return Err(TlsError::Io(IoError::WouldBlock));
        }
        let _scope = mem::Scope::enter(self.pool.as_ptr());
        // SAFETY: an established session; `buf` is writable for its length.
        let rc = unsafe { mbedtls_sys::ssl_read(self.ctx.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        match rc {
            0 | mbedtls_sys::ERR_SSL_PEER_CLOSE_NOTIFY => Err(TlsError::Io(IoError::Closed)),
            n if n > 0 => Ok(n as usize),
            mbedtls_sys::ERR_SSL_WANT_READ | mbedtls_sys::ERR_SSL_WANT_WRITE => Err(TlsError::Io(IoError::WouldBlock)),
            rc => Err(self.describe(rc)),
        }
    }

    /// Ends the session and gives mbedTLS's memory back to the pool. With `keep_stream`, the
    /// byte stream is kept to be restarted by the next [`start`](Self::start) to the same
    /// place; without it (after a failure: the name may resolve elsewhere now), it is closed.
    pub fn close(&mut self, keep_stream: bool) {
        if self.set_up {
            let _scope = mem::Scope::enter(self.pool.as_ptr());
            // SAFETY: set up by `start`, freed once here. A close_notify is only polite: a
            // failure to send it changes nothing.
            unsafe {
                if self.established {
                    let _ = mbedtls_sys::ssl_close_notify(self.ctx.as_ptr());
                }
                mbedtls_sys::ssl_free(self.ctx.as_ptr());
            }
            self.set_up = false;
        }
        self.established = false;
        if !keep_stream {
            self.io_mut().conn = None;
            self.target.clear();
        }
    }

    /// Whether a session is under way (started and not closed).
    pub fn is_open(&self) -> bool {
        self.set_up
    }

    /// The socket descriptor under this session, if the network has one.
    pub fn fd(&self) -> Option<i32> {
        if !self.set_up {
            return None;
        }
        self.io().conn.as_ref().and_then(|c| c.fd())
    }

    /// Whether the last call stopped because the socket could not take more bytes.
    pub fn wants_write(&self) -> bool {
        self.set_up && self.io().status.want_write.get()
    }

    /// While connecting: when to call again even if the socket stays quiet.
    pub fn wake_in_ms(&self) -> Option<u64> {
        if !self.set_up {
            return None;
        }
        self.io().conn.as_ref().and_then(|c| c.wake_in_ms())
    }
}

impl Drop for TlsSession {
    fn drop(&mut self) {
        self.close(false);
        // SAFETY: made by Box::into_raw in `new`, freed once here; mbedTLS no longer holds
        // them (the context was freed by `close`).
        unsafe {
            drop(Box::from_raw(self.io.as_ptr()));
            drop(Box::from_raw(self.ctx.as_ptr()));
        }
    }
}
